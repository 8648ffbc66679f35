"""The provenance record keeps every setting declared as recorded, by construction (vak_tcn.settings)."""

from __future__ import annotations

import json
import types

import vak  # noqa: F401  (loads the plugins through the start-up hook, or below)

from vak_tcn import plugins, settings
from vak_tcn.models import provenance

plugins.load_plugins()

#: read when CUDA starts in this process: left as they are, checked as they are
LEFT_AS_THEY_ARE = {"CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG"}


def test_the_record_keeps_every_setting_declared_as_recorded(monkeypatch):
    import vak.models

    config = {"network": {"out_channels": 8, "num_layers": 2}, "optimizer": {}, "loss": {}, "metrics": {}}
    model = vak.models.get("TCN", config, input_shape=(1, 64, 32), num_classes=3, labelmap={"background": 0, "a": 1})
    recorded = [s for s in settings.DECLARED if s.recorded]
    assert {"VAK_TCN_TUNE", "VAK_TCN_POST_PROCESSING"} <= {s.env for s in recorded}
    given = {s.env: f"value-of-{s.name}" for s in recorded if s.env not in LEFT_AS_THEY_ARE}
    for variable, value in given.items():  # after the build: the record keeps them as given, unchecked
        monkeypatch.setenv(variable, value)
    record = provenance.start_record(model, types.SimpleNamespace(), None)
    environment = record[settings.PROVENANCE_FIELD]
    missing = [s.env for s in recorded if s.env not in environment]
    assert missing == [], f"declared as recorded, missing from the provenance record: {missing}"
    assert {k: environment[k] for k in given} == given
    assert set(environment) == {s.env for s in recorded}  # and nothing undeclared
    json.dumps(record)
