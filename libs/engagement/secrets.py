"""Secrets: from the environment in the local mode, from SSM SecureStrings in AWS (through powertools' cache).

Reading through a cache with a maximum age means a rotated value (aws ssm put-parameter --overwrite) is picked up
within minutes, with no redeploy; `refresh=True` fetches at once (after a 401, say). Values are never logged.
"""

from __future__ import annotations

NOT_SET = ("", "unset")  # Terraform creates parameters with the placeholder "unset"


class SecretSource:
    def __init__(self, value: str | None = None, parameter: str | None = None, max_age: int = 300) -> None:
        self._value = value
        self._parameter = parameter
        self._max_age = max_age

    @property
    def configured(self) -> bool:
        return self._parameter is not None or (self._value or "").strip() not in NOT_SET

    def get(self, *, refresh: bool = False) -> str | None:
        if self._parameter is None:
            value = self._value
        else:
            from aws_lambda_powertools.utilities import parameters

            value = str(
                parameters.get_parameter(self._parameter, decrypt=True, max_age=self._max_age, force_fetch=refresh)
            )
        value = (value or "").strip()
        return None if value in NOT_SET else value

    def __repr__(self) -> str:
        return f"SecretSource(parameter={self._parameter!r}, value={'<set>' if self._value else None})"
