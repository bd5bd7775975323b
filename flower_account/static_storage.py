"""WhiteNoise's static files storage, each URL looked up once per process.

`{% static %}` asks the storage on every use: the manifest lookup, name cleaning and URL joining
took ~20 µs a tag, four on every page. The manifest is read when the process starts and only
`collectstatic` (a release, then a restart) changes it, so a URL found once stays right; with DEBUG
the storage gives the files' own names and nothing is kept.
"""

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str, force: bool = False) -> str:
        if settings.DEBUG or force:
            return super().url(name, force)
        url = self._urls.get(name)
        if url is None:
            url = self._urls[name] = super().url(name)
        return url
