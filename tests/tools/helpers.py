"""Reading the stand-in's answers."""

from http import HTTPStatus

import requests


def errors_of(response: requests.Response) -> list[tuple[str, str]]:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"] == "application/problem+json"
    return [
        (group["request_id"], error["path"])
        for group in response.json()["validation-errors"]
        for error in group["errors"]
    ]


def lead_id_of(api, item: dict) -> int:
    return api.post(api.url("/api/v4/leads"), json=[item], timeout=5).json()["_embedded"]["leads"][0]["id"]
