"""Gunicorn settings for mcof-comms: ``gunicorn -c config/gunicorn.py app:app``.

The one place gunicorn's logging is set: its error and access logs go through
:class:`mcof_comms.logs.GunicornLogger`, which redacts phone numbers (request lines and query
strings included). Other settings (workers, threads, bind) stay on the command line.
"""

logger_class = "mcof_comms.logs.GunicornLogger"
accesslog = "-"
