"""Settings read from SSM through Powertools' parameter provider, with its cache."""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.utilities.parameters import SSMProvider

from batchlane.common.settings import Settings


class SsmSettingsSource:
    def __init__(self, path: str, *, max_age: int = 30, boto3_client=None) -> None:
        self.path = path.rstrip("/")
        self.max_age = max_age
        self.provider = SSMProvider(boto3_client=boto3_client)
        self._parsed: tuple[object, Settings] | None = None

    def get(self) -> Settings:
        params = self.provider.get_multiple(self.path, max_age=self.max_age)
        if self._parsed is None or self._parsed[0] is not params:
            # get_multiple's type covers every transform; without one, the values are the parameters' strings.
            self._parsed = (params, Settings.from_parameters(cast(dict[str, str], params)))
        return self._parsed[1]
