"""gunicorn reads this file from the working directory when it runs the Procfile's
`gunicorn 'service.web:create_app()'`: a bad setting stops it with one line."""

from service.web.server import check_settings as on_starting  # noqa: F401
