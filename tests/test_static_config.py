"""Static configuration: models, defaults, the three sources and their errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from edgeway.config.loader import (
    LoadedStatic,
    StaticConfigError,
    is_reserved_env,
    load_static_configuration,
)
from edgeway.config.static import (
    EntryPoint,
    StaticConfiguration,
    build_static_model,
    default_entrypoints,
    effective_configuration,
    parse_address,
)
from edgeway.registry import ProviderType, Registry
from pydantic import BaseModel, ConfigDict, ValidationError


class FakeFileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str | None = None
    directory: str | None = None
    watch: bool = True
    labels: dict[str, str] = {}


def _factory(options, ctx):  # pragma: no cover - never started here
    raise AssertionError


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.add_provider(ProviderType("file", "file", FakeFileOptions, _factory), owner="test")
    return reg


@pytest.fixture
def load(tmp_path, registry):
    """Load with ``tmp_path`` as cwd and only search directory (never /etc)."""

    def _load(argv=(), env=None, files=None) -> LoadedStatic:
        for name, text in (files or {}).items():
            (tmp_path / name).write_text(textwrap.dedent(text))
        return load_static_configuration(
            list(argv), env or {}, tmp_path, registry, search_dirs=[tmp_path]
        )

    return _load


def _error(load, **kwargs) -> StaticConfigError:
    with pytest.raises(StaticConfigError) as info:
        load(**kwargs)
    return info.value


# --- defaults and effective configuration --------------------------------------------


def test_defaults_without_any_source(load):
    loaded = load()
    static = loaded.configuration
    assert loaded.source == "defaults" and loaded.file is None
    assert list(static.entryPoints) == ["http"]
    assert static.entryPoints["http"].address == ":80"
    assert static.api is None and static.ping is None
    assert static.global_.checkNewVersion is True and static.global_.sendAnonymousUsage is False
    assert static.providers.providersThrottleDuration == 2.0
    assert static.providers.enabled() == {}
    assert static.log.level == "ERROR" and static.log.format == "common"
    st = static.serversTransport
    assert st.maxIdleConnsPerHost == 200 and st.insecureSkipVerify is False
    assert (st.forwardingTimeouts.dialTimeout, st.forwardingTimeouts.responseHeaderTimeout) == (
        30,
        0,
    )
    assert st.forwardingTimeouts.idleConnTimeout == 90


def test_entry_point_defaults():
    ep = EntryPoint(address=":8000")
    rt = ep.transport.respondingTimeouts
    assert (rt.readTimeout, rt.writeTimeout, rt.idleTimeout) == (60, 0, 180)
    assert ep.transport.lifeCycle.requestAcceptGraceTimeout == 0
    assert ep.transport.lifeCycle.graceTimeOut == 10
    assert ep.transport.keepAliveMaxRequests == 0 and ep.transport.keepAliveMaxTime == 0
    assert ep.http.maxHeaderBytes == 1 << 20 and ep.http.sanitizePath is True
    assert ep.http.encodeQuerySemicolons is False and ep.http.middlewares == ()
    assert ep.forwardedHeaders.trustedIPs == () and ep.forwardedHeaders.insecure is False
    assert not ep.asDefault and not ep.reusePort


def test_api_and_ping_defaults(load):
    static = load(["--api", "--ping"]).configuration
    assert (static.api.insecure, static.api.dashboard, static.api.debug) == (False, True, False)
    assert static.api.basePath == "/"
    assert static.ping.entryPoint == "traefik" and static.ping.terminatingStatusCode == 503
    assert static.ping.manualRouting is False


def test_models_are_frozen_and_strict():
    static = StaticConfiguration()
    with pytest.raises(ValidationError):
        static.log = None  # type: ignore[misc]
    with pytest.raises(ValidationError):
        StaticConfiguration.model_validate({"entryPoints": {"web": {"address": ":1", "x": 1}}})


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--api.insecure"], {"http": ":80", "traefik": ":8080"}),
        (["--ping"], {"http": ":80", "traefik": ":8080"}),
        (["--api"], {"http": ":80"}),  # secure API: no internal entry point
        (["--ping.manualRouting"], {"http": ":80"}),
        (["--entryPoints.web.address=:81", "--ping.entryPoint=web"], {"web": ":81"}),
        (
            ["--entryPoints.traefik.address=:9000", "--api.insecure"],
            {"traefik": ":9000"},  # user-defined: kept, and no ``http`` either
        ),
    ],
)
def test_effective_entry_points(load, argv, expected):
    eps = load(argv).configuration.entryPoints
    assert {name: ep.address for name, ep in eps.items()} == expected


def test_effective_configuration_is_idempotent():
    static = effective_configuration(StaticConfiguration.model_validate({"ping": {}}))
    assert effective_configuration(static) is static


def test_default_entrypoints():
    def eps(**spec):
        return effective_configuration(StaticConfiguration.model_validate({"entryPoints": spec}))

    assert default_entrypoints(StaticConfiguration()) == []
    assert default_entrypoints(effective_configuration(StaticConfiguration())) == ["http"]
    both = eps(
        websecure={"address": ":443"},
        web={"address": ":80"},
        dns={"address": ":53/udp"},
        traefik={"address": ":8080"},
    )
    assert default_entrypoints(both) == ["web", "websecure"]
    flagged = eps(
        web={"address": ":80"},
        websecure={"address": ":443", "asDefault": True},
        traefik={"address": ":8080", "asDefault": True},
    )
    assert default_entrypoints(flagged) == ["websecure"]


# --- addresses and field checks ------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        (":80", ("", 80, "tcp")),
        ("0.0.0.0:8080/tcp", ("0.0.0.0", 8080, "tcp")),
        ("localhost:53/UDP", ("localhost", 53, "udp")),
        ("[::1]:443", ("::1", 443, "tcp")),
        ("[::]:0/udp", ("::", 0, "udp")),
    ],
)
def test_parse_address(address, parsed):
    assert parse_address(address) == parsed
    ep = EntryPoint(address=address)
    assert (ep.host, ep.port, ep.protocol) == parsed
    assert ep.listen_address == address.split("/")[0]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("80", "missing port"),
        (":http", "port must be a number"),
        (":70000", "port must be a number"),
        (":80/sctp", "invalid protocol"),
        ("::1:80", "brackets"),
        ("[::1]", "expected [ipv6]:port"),
        ("[nope]:80", "not an IPv6 address"),
    ],
)
def test_bad_addresses(address, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_address(address)


def test_field_checks_name_their_path(load):
    err = _error(
        load,
        files={
            "edgeway.yml": """
                entryPoints:
                  web:
                    address: ":80"
                    forwardedHeaders:
                      trustedIPs: ["10.0.0.0/8", "127.0.0.1", "not-an-ip"]
                api:
                  basePath: "no-slash"
                log:
                  level: verbose
                  format: xml
                ping:
                  terminatingStatusCode: 42
            """
        },
    )
    text = str(err)
    assert "entryPoints.web.forwardedHeaders.trustedIPs[2]: 'not-an-ip' is not an IP" in text
    assert "api.basePath: must be a valid absolute URL path" in text
    assert "log.level: Input should be 'TRACE'" in text
    assert "log.format: Input should be 'common' or 'json'" in text
    assert "ping.terminatingStatusCode:" in text
    assert len(err.problems) == 5


def test_log_level_and_format_are_case_insensitive(load):
    static = load(["--log.level=warn", "--log.format=JSON"]).configuration
    assert (static.log.level, static.log.format) == ("WARN", "json")


# --- file source ---------------------------------------------------------------------

YAML = """
    global:
      checkNewVersion: false
    entryPoints:
      web:
        address: ":8000"
        asDefault: true
        http:
          middlewares: ["auth@file", "compress@file"]
          maxHeaderBytes: 4096
      websecure:
        address: "[::]:8443"
        reusePort: true
        transport:
          respondingTimeouts:
            writeTimeout: 5s
          lifeCycle:
            graceTimeOut: 1m
    providers:
      providersThrottleDuration: 500ms
      file:
        filename: /etc/dyn.yml
        watch: false
    api:
      insecure: true
    log:
      level: info
    serversTransport:
      rootCAs: [/ca.pem]
      forwardingTimeouts:
        dialTimeout: 5s
"""


def test_yaml_file(load, tmp_path):
    loaded = load(files={"edgeway.yml": YAML})
    static = loaded.configuration
    assert loaded.source == "file" and loaded.file == tmp_path / "edgeway.yml"
    assert loaded.description == f"file {tmp_path / 'edgeway.yml'}"
    assert static.global_.checkNewVersion is False
    web, websecure = static.entryPoints["web"], static.entryPoints["websecure"]
    assert web.port == 8000 and web.asDefault
    assert (
        web.http.middlewares == ("auth@file", "compress@file") and web.http.maxHeaderBytes == 4096
    )
    assert websecure.reusePort and websecure.host == "::"
    assert websecure.transport.respondingTimeouts.writeTimeout == 5
    assert websecure.transport.respondingTimeouts.readTimeout == 60  # sibling default kept
    assert websecure.transport.lifeCycle.graceTimeOut == 60
    assert static.providers.providersThrottleDuration == 0.5
    assert static.providers.file == FakeFileOptions(filename="/etc/dyn.yml", watch=False)
    assert static.providers.enabled() == {"file": static.providers.file}
    assert static.api.insecure and "traefik" in static.entryPoints
    assert static.log.level == "INFO"
    assert static.serversTransport.rootCAs == ("/ca.pem",)
    assert static.serversTransport.forwardingTimeouts.dialTimeout == 5
    assert default_entrypoints(static) == ["web"]


def test_toml_file(load, tmp_path):
    loaded = load(
        files={
            "edgeway.toml": """
                [entryPoints.web]
                address = ":8000"
                [entryPoints.web.forwardedHeaders]
                trustedIPs = ["10.0.0.0/8"]
                [providers.file]
                directory = "/dyn"
                [ping]
            """
        }
    )
    static = loaded.configuration
    assert loaded.file == tmp_path / "edgeway.toml"
    assert static.entryPoints["web"].forwardedHeaders.trustedIPs == ("10.0.0.0/8",)
    assert static.providers.file.directory == "/dyn"
    assert static.ping is not None and set(static.entryPoints) == {"web", "traefik"}


def test_file_keys_are_case_insensitive_but_names_are_kept(load):
    static = load(
        files={
            "edgeway.yml": """
                ENTRYPOINTS:
                  MyWeb:
                    Address: ":8000"
                    HTTP: {SanitizePath: false}
                Providers:
                  FILE: {FileName: /x.yml}
                Global: {CheckNewVersion: false}
            """
        }
    ).configuration
    assert list(static.entryPoints) == ["MyWeb"]
    assert static.entryPoints["MyWeb"].http.sanitizePath is False
    assert static.providers.file.filename == "/x.yml"
    assert static.global_.checkNewVersion is False


def test_yaml_null_section_is_ignored_as_in_traefik(load):
    static = load(files={"edgeway.yml": "api:\nping: {}\n"}).configuration
    assert static.api is None and static.ping is not None


def test_sections_written_as_booleans_in_files(load):
    static = load(files={"edgeway.yml": "api: true\nping: false\nproviders: {file: true}\n"})
    assert static.configuration.api is not None and static.configuration.ping is None
    assert static.configuration.providers.file == FakeFileOptions()


def test_file_search_order_and_locations(tmp_path, registry):
    etc, cwd = tmp_path / "etc", tmp_path / "cwd"
    etc.mkdir()
    cwd.mkdir()
    (etc / "edgeway.yml").write_text("entryPoints: {etc: {address: ':1'}}\n")

    def load(**kw):
        return load_static_configuration([], {}, cwd, registry, search_dirs=[cwd, etc], **kw)

    assert load().file == etc / "edgeway.yml"
    (cwd / "edgeway.toml").write_text("[entryPoints.toml]\naddress = ':2'\n")
    assert load().file == cwd / "edgeway.toml"
    (cwd / "edgeway.yaml").write_text("entryPoints: {yaml: {address: ':3'}}\n")
    assert load().file == cwd / "edgeway.yaml"
    (cwd / "edgeway.yml").write_text("entryPoints: {yml: {address: ':4'}}\n")
    assert list(load().configuration.entryPoints) == ["yml"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--configFile=conf/my.yml"],
        ["--configfile=conf/my.yml"],
        ["--configFile", "conf/my.yml"],
        ["-configFile=conf/my.yml"],
    ],
)
def test_config_file_flag(load, tmp_path, argv):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "my.yml").write_text("entryPoints: {mine: {address: ':9'}}\n")
    (tmp_path / "edgeway.yml").write_text("entryPoints: {default: {address: ':1'}}\n")
    loaded = load(argv)
    assert loaded.file == tmp_path / "conf" / "my.yml"
    assert list(loaded.configuration.entryPoints) == ["mine"]
    assert loaded.ignored == ()


def test_missing_config_file_is_an_error(load):
    err = _error(load, argv=["--configFile=nope.yml"])
    assert "configFile: no such file" in str(err) and "nope.yml" in str(err)


def test_yaml_syntax_error_gives_line(load, tmp_path):
    err = _error(load, files={"edgeway.yml": "entryPoints:\n  web:\n    address: [\n"})
    assert f"{tmp_path / 'edgeway.yml'}:4:" in str(err)


def test_toml_syntax_error_gives_line(load, tmp_path):
    err = _error(load, files={"edgeway.toml": "[api]\ninsecure = true\ndebug = \n"})
    assert f"{tmp_path / 'edgeway.toml'}:3:" in str(err)


@pytest.mark.parametrize("text", ["", "# nothing\n"])
def test_empty_file_is_an_error(load, text):
    assert "no configuration found" in str(_error(load, files={"edgeway.yml": text}))


def test_file_errors_name_key_paths(load, tmp_path):
    err = _error(
        load,
        files={
            "edgeway.yml": """
                entryPoints:
                  web:
                    address: "nope"
                  websecure:
                    address: ":443"
                    http:
                      encodedCharacters: {}
                    transport:
                      respondingTimeouts: {readTimeout: forever}
                providers:
                  file: {watch: maybe, filenme: x}
                  docker: {}
                hostResolver: {}
                colour: red
            """
        },
    )
    assert err.source == f"file {tmp_path / 'edgeway.yml'}"
    assert sorted(err.problems) == sorted(
        [
            "entryPoints.websecure.http.encodedCharacters: not supported by this version of edgeway",
            "providers.file.filenme: unknown key",
            "providers.docker: not supported by this version of edgeway"
            " (no installed plugin provides this provider)",
            "hostResolver: not supported by this version of edgeway",
            "colour: unknown key",
            "entryPoints.web.address: invalid address 'nope': missing port (e.g. ':80')",
            "entryPoints.websecure.transport.respondingTimeouts.readTimeout: invalid duration"
            " 'forever': expected e.g. '10s', '1m30s', '100ms'",
            "providers.file.watch: Input should be a valid boolean, unable to interpret input",
        ]
    )


def test_keys_given_twice_in_different_case(load):
    err = _error(load, files={"edgeway.yml": "api: {insecure: true, Insecure: false}\n"})
    assert "api.Insecure: given twice" in str(err)


def test_missing_entry_point_address(load):
    err = _error(load, argv=["--entryPoints.web.reusePort"])
    assert err.problems == ["entryPoints.web.address: Field required"]


# --- flags ---------------------------------------------------------------------------


def test_flags(load):
    loaded = load(
        [
            "--entryPoints.web.address=:8000",
            "--entryPoints.websecure.address",
            ":8443",
            "--entryPoints.web.http.middlewares=a@file, b@file",
            "--entryPoints.web.asDefault",
            "--api.insecure",
            "--providers.file.filename=/x.yml",
            "--providers.file.watch=false",
            "--providers.file.labels.Team=Edge",
            "--log.level=DEBUG",
        ]
    )
    static = loaded.configuration
    assert loaded.source == "flags" and loaded.description == "command-line flags"
    assert static.entryPoints["web"].port == 8000 and static.entryPoints["websecure"].port == 8443
    assert static.entryPoints["web"].http.middlewares == ("a@file", "b@file")
    assert static.entryPoints["web"].asDefault is True
    assert static.api.insecure is True
    assert static.providers.file == FakeFileOptions(
        filename="/x.yml", watch=False, labels={"Team": "Edge"}
    )


@pytest.mark.parametrize("flag", ["--api", "--api=true", "--API", "--api="])
def test_bare_section_enables_it_with_defaults(load, flag):
    static = load([flag]).configuration
    assert static.api is not None and static.api.dashboard is True


def test_bare_provider_section(load):
    assert load(["--providers.file"]).configuration.providers.file == FakeFileOptions()


def test_section_false_leaves_it_unset(load):
    static = load(["--api=false", "--ping", "--ping=false", "--log.level=INFO"]).configuration
    assert static.api is None and static.ping is None


def test_bare_boolean_does_not_take_the_next_argument(load):
    static = load(
        ["--api.insecure", "--api.dashboard", "--entryPoints.a.address", ":1"]
    ).configuration
    assert static.api.insecure and static.api.dashboard
    assert static.entryPoints["a"].address == ":1"


def test_flag_keys_are_case_insensitive_and_map_keys_keep_spelling(load):
    static = load(
        ["--ENTRYPOINTS.MyWeb.ADDRESS=:8000", "--entrypoints.MyWeb.http.sanitizepath=false"]
    ).configuration
    assert list(static.entryPoints) == ["MyWeb"]
    assert static.entryPoints["MyWeb"].http.sanitizePath is False


def test_repeated_flags(load):
    static = load(
        [
            "--log.level=DEBUG",
            "--log.level=INFO",
            "--entryPoints.web.address=:1",
            "--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.1,10.0.0.2",
            "--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.3",
        ]
    ).configuration
    assert static.log.level == "INFO"  # scalars: last wins
    # lists accumulate, as paerser joins repeated slice flags with ","
    assert static.entryPoints["web"].forwardedHeaders.trustedIPs == (
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
    )


def test_flag_errors_name_key_paths(load):
    err = _error(
        load,
        argv=[
            "--entryPoints.web.address=:80",
            "--entryPoints.web.adress=:81",
            "--entryPoints.web.http3",
            "--entryPoints.web.http.maxHeaderBytes=lots",
            "--providers.file.watch=maybe",
            "--providers.nomad",
            "--providers.mine",
            "--api.insecure.really",
            "--api=maybe",
        ],
    )
    assert err.source == "command-line flags"
    assert err.problems == [
        "entryPoints.web.adress: unknown key (from --entryPoints.web.adress=:81)",
        "entryPoints.web.http3: not supported by this version of edgeway (from --entryPoints.web.http3)",
        "providers.nomad: not supported by this version of edgeway"
        " (no installed plugin provides this provider) (from --providers.nomad)",
        "providers.mine: unknown key (from --providers.mine)",
        "api.insecure.really: unknown key (api.insecure takes a value, not sub-keys)"
        " (from --api.insecure.really)",
        "api: expected true or false to enable or disable the section (from --api=maybe)",
        "entryPoints.web.http.maxHeaderBytes: Input should be a valid integer,"
        " unable to parse string as an integer",
        "providers.file.watch: Input should be a valid boolean, unable to interpret input",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["positional"], "unexpected argument 'positional'"),
        (["---api"], "bad flag syntax: ---api"),
        (["--=x"], "bad flag syntax"),
        (["--api..insecure"], "bad flag syntax"),
        (["--log.level"], "flag needs a value: --log.level"),
        (["--configFile"], "flag needs a value"),
        (["--api", "--", "x"], "unexpected arguments after '--'"),
    ],
)
def test_flag_syntax_errors(load, argv, message):
    assert message in str(_error(load, argv=argv))


# --- environment ---------------------------------------------------------------------


def test_environment(load):
    loaded = load(
        env={
            "EDGEWAY_ENTRYPOINTS_WEB_ADDRESS": ":8000",
            "EDGEWAY_ENTRYPOINTS_WEB_FORWARDEDHEADERS_TRUSTEDIPS": "10.0.0.0/8,192.168.0.1",
            "EDGEWAY_API_INSECURE": "true",
            "EDGEWAY_PROVIDERS_FILE_FILENAME": "/x.yml",
            "EDGEWAY_PING": "true",
            "EDGEWAY_DISABLE_PLUGINS": "1",
            "HOME": "/root",
        }
    )
    static = loaded.configuration
    assert loaded.source == "env" and loaded.description == "environment variables"
    assert static.entryPoints["web"].address == ":8000"
    assert static.entryPoints["web"].forwardedHeaders.trustedIPs == ("10.0.0.0/8", "192.168.0.1")
    assert static.api.insecure and static.ping is not None
    assert static.providers.file.filename == "/x.yml"


def test_global_section_from_every_source(load):
    err = _error(load, argv=["--global.checkNewVersion=soon"])
    assert err.problems[0].startswith("global.checkNewVersion: Input should be a valid boolean")
    flags = load(["--global.checkNewVersion=false", "--Global.SendAnonymousUsage"])
    env = load(env={"EDGEWAY_GLOBAL_CHECKNEWVERSION": "false"})
    yml = load(files={"edgeway.yml": "global: {checkNewVersion: false}\n"})
    for loaded in (flags, env, yml):
        assert loaded.configuration.global_.checkNewVersion is False
    assert flags.configuration.global_.sendAnonymousUsage is True


def test_environment_map_keys_are_lower_cased(load):
    static = load(env={"EDGEWAY_ENTRYPOINTS_MYWEB_ADDRESS": ":1"}).configuration
    assert list(static.entryPoints) == ["myweb"]


def test_reserved_environment_is_not_configuration(load):
    env = {
        "EDGEWAY_DISABLE_PLUGINS": "file",
        "EDGEWAY_CONFORMANCE_DIR": "/c",
        "EDGEWAY_TEST_X": "1",
    }
    assert all(is_reserved_env(name) for name in env)
    assert not is_reserved_env("EDGEWAY_API")
    assert load(env=env).source == "defaults"


def test_environment_errors_name_key_paths(load):
    err = _error(
        load,
        env={
            "EDGEWAY_ENTRYPOINTS_WEB_ADDRESS": "web",
            "EDGEWAY_ENTRYPOINT_WEB_ADDRESS": ":1",
            "EDGEWAY_HOSTRESOLVER_CNAMEFLATTENING": "true",
            "EDGEWAY_PROVIDERS_FILE_WATCH": "sometimes",
            "EDGEWAY_CONFIGFILE": "/x.yml",
            "EDGEWAY_API__INSECURE": "true",
        },
    )
    assert err.source == "environment variables"
    assert sorted(err.problems) == sorted(
        [
            "EDGEWAY_API__INSECURE: empty key segment (doubled or trailing '_')",
            "EDGEWAY_CONFIGFILE: the configuration file can only be given as --configFile",
            "entrypoint: unknown key (from EDGEWAY_ENTRYPOINT_WEB_ADDRESS)",
            "hostresolver: not supported by this version of edgeway (from EDGEWAY_HOSTRESOLVER_CNAMEFLATTENING)",
            "entryPoints.web.address: invalid address 'web': missing port (e.g. ':80')",
            "providers.file.watch: Input should be a valid boolean, unable to interpret input",
        ]
    )


# --- precedence ----------------------------------------------------------------------


def test_file_wins_over_flags_and_environment(load):
    loaded = load(
        ["--entryPoints.flag.address=:2"],
        env={"EDGEWAY_ENTRYPOINTS_ENV_ADDRESS": ":3"},
        files={"edgeway.yml": "entryPoints: {file: {address: ':1'}}\n"},
    )
    assert loaded.source == "file"
    assert list(loaded.configuration.entryPoints) == ["file"]
    assert loaded.ignored == ("command-line flags", "environment variables")


def test_flags_win_over_environment(load):
    loaded = load(["--entryPoints.flag.address=:2"], env={"EDGEWAY_ENTRYPOINTS_ENV_ADDRESS": ":3"})
    assert loaded.source == "flags"
    assert list(loaded.configuration.entryPoints) == ["flag"]
    assert loaded.ignored == ("environment variables",)


def test_ignored_sources_are_not_validated(load):
    loaded = load(["--no.such=1"], files={"edgeway.yml": "api: {}\n"})
    assert loaded.source == "file" and loaded.configuration.api is not None


# --- durations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("1m30s", 90),
        ("100ms", 0.1),
        ("1h", 3600),
        ("10", 10),  # a bare integer is seconds, as in paerser
        ("0", 0),
        ("1.5s", 1.5),
    ],
)
def test_duration_spellings_from_every_source(load, tmp_path, text, seconds):
    key = "entryPoints.web.transport.respondingTimeouts.readTimeout"
    flags = load(["--entryPoints.web.address=:1", f"--{key}={text}"])
    env = load(
        env={
            "EDGEWAY_ENTRYPOINTS_WEB_ADDRESS": ":1",
            "EDGEWAY_ENTRYPOINTS_WEB_TRANSPORT_RESPONDINGTIMEOUTS_READTIMEOUT": text,
        }
    )
    value = text if not text.isdigit() else int(text)  # YAML gives a number here
    yml = load(
        files={
            "edgeway.yml": f"""
                entryPoints:
                  web:
                    address: ":1"
                    transport: {{respondingTimeouts: {{readTimeout: {value!r}}}}}
            """
        }
    )
    for loaded in (flags, env, yml):
        rt = loaded.configuration.entryPoints["web"].transport.respondingTimeouts
        assert rt.readTimeout == pytest.approx(seconds)


def test_durations_dump_in_go_format():
    static = StaticConfiguration.model_validate({"providers": {"providersThrottleDuration": 90}})
    dumped = static.model_dump(mode="json", by_alias=True)
    assert dumped["providers"]["providersThrottleDuration"] == "1m30s"
    assert dumped["global"] == {"checkNewVersion": True, "sendAnonymousUsage": False}


# --- model composition ---------------------------------------------------------------


def test_build_static_model_without_providers():
    assert build_static_model(None) is StaticConfiguration
    assert build_static_model(Registry()) is StaticConfiguration


def test_build_static_model_rejects_clashing_keys(registry):
    registry.add_provider(ProviderType("other", "FILE", FakeFileOptions, _factory), owner="x")
    with pytest.raises(ValueError, match=r"providers\.FILE is already used by 'file'"):
        build_static_model(registry)


def test_registered_provider_replaces_not_supported(load, tmp_path):
    reg = Registry()
    reg.add_provider(ProviderType("docker", "docker", FakeFileOptions, _factory), owner="x")
    loaded = load_static_configuration(
        ["--providers.docker.watch=false"], {}, tmp_path, reg, search_dirs=[]
    )
    assert loaded.configuration.providers.docker == FakeFileOptions(watch=False)
    assert isinstance(loaded.configuration, StaticConfiguration)


def test_provider_without_registry_is_not_supported(tmp_path):
    with pytest.raises(StaticConfigError, match="providers.file: not supported"):
        load_static_configuration(["--providers.file"], {}, tmp_path, None, search_dirs=[])


def test_provider_model_allowing_extra_keys_passes_them_through(tmp_path):
    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow")

    reg = Registry()
    reg.add_provider(ProviderType("loose", "loose", Loose, _factory), owner="x")
    loaded = load_static_configuration(
        ["--providers.loose.any.thing=1"], {}, tmp_path, reg, search_dirs=[]
    )
    assert loaded.configuration.providers.loose.model_extra == {"any": {"thing": "1"}}


def test_loaded_static_paths_are_absolute(load, tmp_path):
    loaded = load(files={"edgeway.yml": "api: {}\n"})
    assert isinstance(loaded.file, Path) and loaded.file.is_absolute()
