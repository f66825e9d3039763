"""The CLI's client of the node's HTTP API (token from the node's data folder)."""

from __future__ import annotations

from typing import Any

import httpx

from posguard.console.errors import ApiError
from posguard.console.settings import Settings

__all__ = ["ApiClient"]


class ApiClient:
    """Calls the node's API with its token."""

    def __init__(self, settings: Settings, token: str | None = None, timeout: float = 60.0):
        self.base = settings.api_url.rstrip("/")
        if token is None:
            try:
                token = settings.token_file.read_text().strip()
            except OSError:
                raise ApiError(
                    f"no API token at {settings.token_file}: is the node running with "
                    f"--data {settings.data}?") from None
        self._client = httpx.Client(base_url=self.base, timeout=timeout,
                                    headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str, params: Any = None) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, json: Any = None, params: Any = None) -> Any:
        return self._call("POST", path, json=json, params=params)

    def get_bytes(self, path: str, params: Any = None) -> bytes:
        r = self._request("GET", path, params=params)
        return r.content

    def post_bytes(self, path: str, json: Any = None, params: Any = None) -> bytes:
        return self._request("POST", path, json=json, params=params).content

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._client.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise ApiError(f"cannot reach the node at {self.base}: {e}") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise ApiError(f"{method} {path}: HTTP {r.status_code}: {detail}")
        return r

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        return self._request(method, path, **kw).json()
