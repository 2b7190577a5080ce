"""The recruiter console: server-rendered pages over the same code paths as the HTTP API.

It is a client of the product, not a second implementation: every action goes through
api/recipient_calls.py and api/sequence_calls.py, every "may I?" through domain.actions (the
rows' `allowed_actions`). Pages work without JavaScript; console/static/console.js only adds
live refresh and dialogs on top.
"""
