"""`python -m api`: serve the API on SEQFLOW_API_PORT."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    uvicorn.run(create_app(settings), host="0.0.0.0", port=settings.api_port, log_level="info")
