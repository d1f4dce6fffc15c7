"""Loading files and directories: formats, merging, references, and error positions."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from edgeway.registry import ProviderContext
from edgeway_file import FileProvider, FileProviderError, FileProviderOptions
from edgeway_file.lines import toml_lines
from file_helpers import write

YAML = """\
http:
  routers:
    app:
      rule: Host(`example.com`)
      service: app
      entryPoints: [web]
  services:
    app:
      loadBalancer:
        servers:
          - url: http://10.0.0.1:8080
"""

TOML = """\
[http.routers.app]
  rule = "Host(`example.com`)"
  service = "app"
  entryPoints = ["web"]

[[http.services.app.loadBalancer.servers]]
  url = "http://10.0.0.1:8080"
"""

JSON = """\
{
  "http": {
    "routers": {
      "app": {"rule": "Host(`example.com`)", "service": "app", "entryPoints": ["web"]}
    },
    "services": {
      "app": {"loadBalancer": {"servers": [{"url": "http://10.0.0.1:8080"}]}}
    }
  }
}
"""


def provider(tmp_path: Path, **options: object) -> FileProvider:
    opts = FileProviderOptions.model_validate({"watch": False, **options})
    return FileProvider(opts, ProviderContext(workdir=str(tmp_path)))


async def snapshot_error(p: FileProvider) -> FileProviderError:
    with pytest.raises(FileProviderError) as info:
        await p.snapshot()
    assert p.last_error == str(info.value)
    return info.value


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "text"),
    [("dyn.yml", YAML), ("dyn.yaml", YAML), ("dyn.toml", TOML), ("dyn.json", JSON)],
)
async def test_snapshot_of_each_format(tmp_path: Path, name: str, text: str) -> None:
    write(tmp_path / name, text)
    config = await provider(tmp_path, filename=name).snapshot()
    router = config.http.routers["app"]
    assert router.rule == "Host(`example.com`)"
    assert router.service == "app"
    assert router.entryPoints == ["web"]
    assert config.http.services["app"].loadBalancer.servers[0].url == "http://10.0.0.1:8080"


@pytest.mark.anyio
async def test_empty_file_is_an_empty_configuration(tmp_path: Path) -> None:
    write(tmp_path / "dyn.yml", "# nothing yet\n")
    config = await provider(tmp_path, filename="dyn.yml").snapshot()
    assert config.http is None and config.tcp is None


@pytest.mark.anyio
async def test_directory_is_merged_recursively_in_sorted_order(tmp_path: Path, caplog) -> None:
    conf = tmp_path / "conf"
    write(
        conf / "a.yml", "http:\n  routers:\n    app:\n      rule: Host(`first`)\n      service: s\n"
    )
    write(
        conf / "sub" / "b.toml",
        '[http.routers.other]\nrule = "Path(`/b`)"\nservice = "s"\n'
        '[http.routers.app]\nrule = "Host(`second`)"\nservice = "s"\n',
    )
    write(conf / "c.json", '{"http": {"services": {"s": {"loadBalancer": {"servers": []}}}}}')
    write(conf / "README.md", "{{ not a configuration, and not read }}\n")
    write(conf / "notes.txt", "not: [valid")
    with caplog.at_level(logging.WARNING, logger="edgeway.provider.file"):
        config = await provider(tmp_path, directory="conf").snapshot()
    assert config.http.routers["app"].rule == "Host(`first`)"
    assert config.http.routers["other"].rule == "Path(`/b`)"
    assert set(config.http.services) == {"s"}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "HTTP router 'app'" in warning.message
    assert f"{conf / 'sub' / 'b.toml'}:4" in warning.message
    assert f"already defined in {conf / 'a.yml'}:3" in warning.message


@pytest.mark.anyio
async def test_directory_merges_tls_and_dedupes_certificates(tmp_path: Path, caplog) -> None:
    cert = "tls:\n  certificates:\n    - certFile: CERT\n      keyFile: KEY\n"
    write(
        tmp_path / "d" / "1.yml", cert + "  options:\n    strict:\n      minVersion: VersionTLS13\n"
    )
    write(
        tmp_path / "d" / "2.yml",
        cert + "    - certFile: OTHER\n      keyFile: KEY\n"
        "  options:\n    strict:\n      minVersion: VersionTLS12\n",
    )
    with caplog.at_level(logging.WARNING, logger="edgeway.provider.file"):
        config = await provider(tmp_path, directory="d").snapshot()
    assert [c.certFile for c in config.tls.certificates] == ["CERT", "OTHER"]
    assert config.tls.options["strict"].minVersion == "VersionTLS13"
    messages = [r.message for r in caplog.records]
    assert any("TLS certificate" in m and "2.yml:3" in m and "1.yml:3" in m for m in messages)
    assert any("TLS options 'strict'" in m for m in messages)


@pytest.mark.anyio
async def test_configmap_private_entries_are_not_read_twice(tmp_path: Path, caplog) -> None:
    conf = tmp_path / "conf"
    write(conf / "..2026_11_22_v1" / "app.yml", YAML)
    (conf / "..data").symlink_to("..2026_11_22_v1")
    (conf / "app.yml").symlink_to("..data/app.yml")
    with caplog.at_level(logging.WARNING, logger="edgeway.provider.file"):
        config = await provider(tmp_path, directory="conf").snapshot()
    assert set(config.http.routers) == {"app"}
    assert not caplog.records


@pytest.mark.anyio
async def test_invalid_yaml_points_at_line_and_column(tmp_path: Path) -> None:
    write(tmp_path / "dyn.yml", "http:\n  routers:\n    app: [unclosed\n")
    err = await snapshot_error(provider(tmp_path, filename="dyn.yml"))
    [problem] = err.problems
    assert problem.file == str(tmp_path / "dyn.yml")
    assert problem.line == 4 and problem.column is not None
    assert str(err).startswith(f"{tmp_path / 'dyn.yml'}:4:")
    assert "invalid YAML" in str(err)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("dyn.toml", '[http.routers.app]\nrule = "x"\nservice = \n', 3),
        ("dyn.json", '{\n  "http": {\n    "routers": {,}\n  }\n}\n', 3),
    ],
)
async def test_toml_and_json_syntax_errors_have_positions(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    write(tmp_path / name, text)
    err = await snapshot_error(provider(tmp_path, filename=name))
    [problem] = err.problems
    assert (problem.line, problem.column is not None) == (line, True)
    assert str(problem).startswith(f"{tmp_path / name}:{line}:")


@pytest.mark.anyio
async def test_schema_error_points_at_the_offending_key(tmp_path: Path) -> None:
    write(
        tmp_path / "dyn.yml",
        YAML.replace("      service: app\n", "      service: app\n      rul: x\n"),
    )
    err = await snapshot_error(provider(tmp_path, filename="dyn.yml"))
    assert str(err) == f"{tmp_path / 'dyn.yml'}:6: http.routers.app.rul: unknown key"


@pytest.mark.anyio
async def test_schema_errors_in_toml_and_json_have_lines(tmp_path: Path) -> None:
    write(tmp_path / "dyn.toml", TOML.replace('  url = "http', '  urll = "http'))
    write(tmp_path / "dyn.json", JSON.replace('"service": "app"', '"service": "app",\n "rul": 1'))
    toml_err = await snapshot_error(provider(tmp_path, filename="dyn.toml"))
    assert str(toml_err).startswith(
        f"{tmp_path / 'dyn.toml'}:7: http.services.app.loadBalancer.servers[0].urll:"
    )
    json_err = await snapshot_error(provider(tmp_path, filename="dyn.json"))
    assert str(json_err).startswith(f"{tmp_path / 'dyn.json'}:5: http.routers.app.rul:")


@pytest.mark.anyio
async def test_every_problem_of_every_file_is_listed(tmp_path: Path) -> None:
    write(tmp_path / "d" / "a.yml", "http:\n  routers:\n    a:\n      rul: x\n")
    write(tmp_path / "d" / "b.yml", "http: [\n")
    write(tmp_path / "d" / "c.yml", YAML)
    err = await snapshot_error(provider(tmp_path, directory="d"))
    assert [(Path(p.file).name, p.line) for p in err.problems] == [("a.yml", 4), ("b.yml", 2)]


@pytest.mark.anyio
async def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    # Traefik's YAML decoder (yaml.v3) rejects it; PyYAML would silently keep the last one.
    write(
        tmp_path / "dyn.yml",
        "http:\n  routers:\n    app:\n      rule: A\n    app:\n      rule: B\n",
    )
    err = await snapshot_error(provider(tmp_path, filename="dyn.yml"))
    assert str(err) == (
        f"{tmp_path / 'dyn.yml'}:5: http.routers.app: key 'app' is already defined at line 3"
    )


@pytest.mark.anyio
async def test_go_templates_are_rejected(tmp_path: Path) -> None:
    write(
        tmp_path / "dyn.yml",
        "http:\n  routers:\n{{ range $i, $e := until 3 }}\n"
        "    r{{ $e }}:\n      rule: Path(`/`)\n{{ end }}\n",
    )
    err = await snapshot_error(provider(tmp_path, filename="dyn.yml"))
    assert str(err).startswith(f"{tmp_path / 'dyn.yml'}:3:1: Go templates")
    assert "not supported" in str(err)


@pytest.mark.anyio
async def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "dyn.yml", "- a\n- b\n")
    err = await snapshot_error(provider(tmp_path, filename="dyn.yml"))
    assert "must be a mapping" in str(err)


@pytest.mark.anyio
async def test_missing_file_and_directory(tmp_path: Path) -> None:
    err = await snapshot_error(provider(tmp_path, filename="nope.yml"))
    assert str(err).startswith(f"{tmp_path / 'nope.yml'}: cannot read")
    err = await snapshot_error(provider(tmp_path, directory="nope"))
    assert str(err).startswith(f"{tmp_path / 'nope'}: cannot read the directory")


@pytest.mark.anyio
async def test_pem_file_references_are_inlined(tmp_path: Path, caplog) -> None:
    write(tmp_path / "certs" / "c.pem", "CERT-PEM")
    write(tmp_path / "certs" / "k.pem", "KEY-PEM")
    write(tmp_path / "certs" / "ca.pem", "CA-PEM")
    (tmp_path / "certs" / "dir.pem").mkdir()
    write(
        tmp_path / "dyn.yml",
        """\
tls:
  certificates:
    - certFile: certs/c.pem
      keyFile: certs/k.pem
    - certFile: certs/dir.pem
      keyFile: certs/k.pem
    - certFile: "-----BEGIN CERTIFICATE-----inline"
      keyFile: "-----BEGIN PRIVATE KEY-----inline"
  options:
    mtls:
      clientAuth:
        caFiles: [certs/ca.pem, certs/dir.pem]
  stores:
    default:
      defaultCertificate:
        certFile: certs/c.pem
        keyFile: certs/k.pem
http:
  serversTransports:
    st:
      rootCAs: certs/ca.pem
      certificates:
        - certFile: certs/c.pem
          keyFile: certs/k.pem
tcp:
  serversTransports:
    st:
      tls:
        rootCAs: [certs/ca.pem]
        certificates:
          - {certFile: certs/c.pem, keyFile: certs/k.pem}
""",
    )
    with caplog.at_level(logging.ERROR, logger="edgeway.provider.file"):
        config = await provider(tmp_path, filename="dyn.yml").snapshot()
    tls = config.tls
    assert [(c.certFile, c.keyFile) for c in tls.certificates] == [
        ("CERT-PEM", "KEY-PEM"),
        ("-----BEGIN CERTIFICATE-----inline", "-----BEGIN PRIVATE KEY-----inline"),
    ]
    assert tls.options["mtls"].clientAuth.caFiles == ["CA-PEM"]
    store_cert = tls.stores["default"].defaultCertificate
    assert (store_cert.certFile, store_cert.keyFile) == ("CERT-PEM", "KEY-PEM")
    st = config.http.serversTransports["st"]
    assert st.rootCAs == ["CA-PEM"]
    assert [(c.certFile, c.keyFile) for c in st.certificates] == [("CERT-PEM", "KEY-PEM")]
    tcp_tls = config.tcp.serversTransports["st"].tls
    assert tcp_tls.rootCAs == ["CA-PEM"]
    assert tcp_tls.certificates[0].certFile == "CERT-PEM"
    errors = [r.message for r in caplog.records]
    assert len(errors) == 2  # the unreadable directory, once as a certificate, once as a CA
    assert errors[0].startswith(
        f"{tmp_path / 'dyn.yml'}:5: tls.certificates[1].certFile: cannot read"
    )
    assert errors[1].startswith(
        f"{tmp_path / 'dyn.yml'}:12: tls.options.mtls.clientAuth.caFiles[1]"
    )


def test_toml_line_scanner_handles_quoted_keys_and_arrays_of_tables() -> None:
    lines = toml_lines(
        '[http.routers."my.app"]\nrule = """\nx = 1\n"""\nservice = "s"\n'
        "[[tls.certificates]]\ncertFile = 'a'\n[[tls.certificates]]\nkeyFile = 'b'\n"
    )
    assert lines.line_of(("http", "routers", "my.app", "service")) == 5
    assert lines.line_of(("http", "routers", "my.app", "x")) == 1
    assert lines.line_of(("tls", "certificates", 1, "keyFile")) == 9
    assert lines.line_of(("tls", "certificates", 0)) == 6
