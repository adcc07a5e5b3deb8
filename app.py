"""WSGI entry point: ``gunicorn app:app`` and ``flask --app app ...``."""

from mcof_comms import create_app

app = create_app()
