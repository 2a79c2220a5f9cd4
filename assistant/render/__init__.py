"""Saved outputs, rendered: a digest or weekly page (``page.py``: Markdown, standalone HTML,
JSON) and the Atom feed of saved weeks (``atom.py``). Pure functions of typed records: no
files are written here, and the app's live fragments are ``ui/render/``'s."""
