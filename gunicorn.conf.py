"""gunicorn reads this file from the working directory when it runs the Procfile's
`gunicorn 'service.web:create_app()'`: a bad setting stops it with one line, and workers serve
as under `paperboy serve`, reading each request whole before a thread takes it."""

from service.web.server import WORKER_CLASS, check_settings, settle_worker_heap  # noqa: F401

worker_class = WORKER_CLASS
on_starting = check_settings
post_worker_init = settle_worker_heap
