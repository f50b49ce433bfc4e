"""A request refused as a whole: the one error every handler of outside calls raises (the Segment
intake, Intercom notifications, collector calls). It becomes HTTP `status` with {"code", "message"}
through `hub.api.request_error_response`; nothing of the request is stored."""


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
