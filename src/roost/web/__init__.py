"""Templates and static files: the session HTML preview and the browser chat UI.

static/ holds the browser UI (served by roost.api.ui), with no build step.
"""
