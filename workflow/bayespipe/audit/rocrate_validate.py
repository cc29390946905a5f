"""Validate a version's Workflow Run Crate offline with roc-validator.

roc-validator fetches the JSON-LD contexts a crate names; here they are served from the copies the
``rocrate`` package ships, through a pre-filled requests_cache, so validation needs no network.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

VALIDATION_PROFILE = "workflow-run-crate-0.5"
CONTEXT_ACCEPT = (
    "application/ld+json, application/json, */*;q=0.1"  # what the validator's loader sends
)


def bundled_contexts() -> dict[str, bytes]:
    """JSON-LD contexts shipped inside the ``rocrate`` package, by the URL they are published at."""
    from importlib.resources import files

    text = files("rocrate").joinpath("data/ro-crate.jsonld").read_bytes()
    url = json.loads(text)["@id"]
    return {url: text}


def offline_context_cache(cache_name: str | Path) -> Path:
    """A requests_cache SQLite file answering the validator's context requests from local copies.

    roc-validator resolves JSON-LD contexts over HTTP through requests_cache; with
    ``--offline``/``offline=True`` it is served only from the cache, so pre-populating the cache
    with the contexts the ``rocrate`` package ships lets it validate with no network.
    """
    import requests
    from requests.structures import CaseInsensitiveDict
    from requests_cache import CachedSession
    from urllib3.response import HTTPResponse

    session = CachedSession(
        cache_name=str(cache_name),
        backend="sqlite",
        expire_after=-1,
        allowable_methods=("GET",),
        allowable_codes=(200, 302, 404),
    )
    for url, body in bundled_contexts().items():
        request = session.prepare_request(
            requests.Request("GET", url, headers={"Accept": CONTEXT_ACCEPT})
        )
        headers = {"Content-Type": "application/ld+json", "Content-Length": str(len(body))}
        response = requests.Response()
        response.status_code, response.reason, response.url = 200, "OK", url
        response.raw = HTTPResponse(
            body=io.BytesIO(body),
            headers=headers,
            status=200,
            reason="OK",
            preload_content=False,
            request_url=url,
        )
        response._content = body
        response.encoding = "utf-8"
        response.headers = CaseInsensitiveDict(headers)
        response.request = request
        session.cache.save_response(response, cache_key=session.cache.create_key(request))
    session.close()
    return Path(f"{cache_name}.sqlite")


def validate_crate(
    version_dir: str | Path, cache_name: str | Path, profile: str = VALIDATION_PROFILE
) -> list[str]:
    """Validate the crate of ``version_dir`` offline.

    Returns the failed requirements (empty: valid).
    """
    from rocrate_validator import models, services

    offline_context_cache(cache_name)
    settings = models.ValidationSettings(
        rocrate_uri=str(Path(version_dir).resolve()),
        profile_identifier=profile,
        requirement_severity=models.Severity.REQUIRED,
        cache_path=Path(cache_name),
        offline=True,
    )
    result = services.validate(settings)
    return [
        f"{issue.check.requirement.profile.identifier} {issue.check.identifier}: {issue.message}"
        for issue in result.get_issues(models.Severity.REQUIRED)
    ]
