"""Server-rendered pages (jinja2), one module per feature beside its JSON API in realtime/api/."""
