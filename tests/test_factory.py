from backend import create_app


def test_config_overrides_are_applied(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAOJIA_ENV", "test")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "NODE_PROVINCE": "44"})
    assert app.config["NODE_PROVINCE"] == "44"
    assert app.testing


def test_embedded_default_generates_its_secrets_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAOJIA_ENV", "development")
    monkeypatch.setenv("PIAOJIA_INSTANCE_PATH", str(tmp_path))
    for name in ("SECRET_KEY", "PII_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    first = create_app()
    second = create_app()
    assert first.config["SECRET_KEY"] and first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["PII_KEY"] == second.config["PII_KEY"]
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'piaojia.sqlite3'}"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_its_secrets(monkeypatch):
    import pytest

    from backend.config import ProductionConfig

    for name in ProductionConfig.REQUIRED:
        monkeypatch.setattr(ProductionConfig, name, None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)


def test_production_seals_with_sm2_and_needs_its_key(monkeypatch):
    import pytest

    from backend.config import ProductionConfig

    import os

    assert ProductionConfig.PLATFORM_SIGNATURE_ALG == os.environ.get("PLATFORM_SIGNATURE_ALG", "SM2")  # SM2 unless told otherwise
    config = {name: "x" for name in ProductionConfig.REQUIRED}
    monkeypatch.setattr(ProductionConfig, "PLATFORM_SIGNATURE_ALG", "SM2")
    monkeypatch.setattr(ProductionConfig, "PLATFORM_SM2_SIGNING_KEY", None)
    for name, value in config.items():
        monkeypatch.setattr(ProductionConfig, name, value)
    with pytest.raises(RuntimeError, match="PLATFORM_SM2_SIGNING_KEY"):
        create_app(ProductionConfig)
