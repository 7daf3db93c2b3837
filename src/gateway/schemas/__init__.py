"""What the HTTP API takes and gives, as pydantic models — one module per domain, mirroring
`services`. Request bodies refuse unknown fields and bound every number; answers are built
from the records services return, credits converted from nano-credits in one place
(`common.credits`). `/openapi.json` is generated from these models.
"""
