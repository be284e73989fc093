"""Domain logic: takes and returns core records; knows no HTTP and no SQL."""
