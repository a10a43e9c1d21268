"""Who may frame the pages is the company's choice, and nothing else gets into the header."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from trustable.bootstrap import bootstrap
from trustable.core.errors import ConfigurationError
from trustable.core.settings import Settings


def test_frame_ancestors_come_from_the_setting_and_are_checked(
    settings: Settings, live_server_for: Any
) -> None:
    env = {"TRUSTABLE_FRAME_ANCESTORS": "https://shop.example  'self'"}
    assert Settings.from_env(env).frame_ancestors == "https://shop.example 'self'"
    for bad in ("*", "https://shop.example; script-src *", "javascript:alert(1)", ""):
        with pytest.raises(ConfigurationError, match="TRUSTABLE_FRAME_ANCESTORS"):
            Settings.from_env({"TRUSTABLE_FRAME_ANCESTORS": bad})
    app = bootstrap(replace(settings, frame_ancestors="https://shop.example"))
    try:
        page = httpx.get(f"{live_server_for(app).url}/portal")
        csp = page.headers["content-security-policy"]
        assert csp.endswith("frame-ancestors https://shop.example")
    finally:
        app.close()
