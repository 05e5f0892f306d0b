"""gunicorn reads this file from the working directory when it runs the Procfile's
`gunicorn 'service.web:create_app()'`: a bad setting stops it with one line, and workers are
threaded as under `paperboy serve`, so a slow client holds one thread, not a worker."""

from service.web.server import THREADS  # noqa: F401

worker_class = "gthread"
threads = THREADS
