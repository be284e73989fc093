"""HTTP dialects: parse the wire shape, call one service method, render the result."""
