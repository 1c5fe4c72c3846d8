from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Routes that answer with or without a trailing slash (`/channels/5` and
    `/channels/5/`), so a client's POST is never redirected and lost.

    DRF's constructor turns any truthy `trailing_slash` into a required "/", hence the
    assignment after it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
