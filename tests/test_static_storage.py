"""flower_account.static_storage: WhiteNoise's hashed URLs, each looked up once per process."""

import json
from unittest import mock

from whitenoise.storage import CompressedManifestStaticFilesStorage

from flower_account.static_storage import StaticFilesStorage


def _storage(tmp_path) -> StaticFilesStorage:
    manifest = {"paths": {"css/site.css": "css/site.0123abcd.css"}, "version": "1.1", "hash": "x"}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    return StaticFilesStorage(location=str(tmp_path), base_url="/static/")


def test_a_url_is_the_manifests_and_is_looked_up_once(tmp_path, settings):
    settings.DEBUG = False
    storage = _storage(tmp_path)
    with mock.patch.object(
        CompressedManifestStaticFilesStorage,
        "url",
        autospec=True,
        side_effect=CompressedManifestStaticFilesStorage.url,
    ) as looked_up:
        urls = [storage.url("css/site.css") for _ in range(3)]
    assert urls == ["/static/css/site.0123abcd.css"] * 3
    assert looked_up.call_count == 1


def test_with_debug_nothing_is_kept(tmp_path, settings):
    settings.DEBUG = True
    storage = _storage(tmp_path)
    assert storage.url("css/site.css") == "/static/css/site.css"  # the file's own name, as Django's
    assert storage._urls == {}
