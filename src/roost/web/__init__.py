"""Templates and static files: the session HTML preview and the browser chat UI.

Empty until the chat.nvim inbox (session preview) and browser UI issues fill it.
"""
