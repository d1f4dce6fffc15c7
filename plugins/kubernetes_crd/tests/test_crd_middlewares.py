"""Middlewares and MiddlewareTCPs (kubernetes.go's middleware loops), checked directly on small manifests."""

from __future__ import annotations

import pytest
from crd_core_objects import crd, problems, run, secret

HTPASSWD = "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"


def middleware(result, name="m", ns="default"):
    return result.configuration["http"]["middlewares"].get(f"{ns}-{name}")


def test_pass_through_fields_are_written_as_traefik_writes_them():
    spec = {
        "headers": {
            "FrameDeny": True,  # Go matches keys case-insensitively
            "contentTypeNosniff": False,  # omitempty
            "sslRedirect": False,  # a pointer: kept
            "customRequestHeaders": {"X-Empty": ""},
            "notAField": 1,  # dropped
        },
        "ipWhiteList": {"sourceRange": ["10.0.0.0/8"], "ipStrategy": {}},
        "ipAllowList": {"sourceRange": [], "rejectStatusCode": 0},
        "stripPrefix": {"prefixes": ["/a"], "forceSlash": False},
        "redirectScheme": {"scheme": "https", "permanent": True},
        "contentType": {},
    }
    result = run(crd("Middleware", "m", spec))
    assert middleware(result) == {
        "headers": {
            "frameDeny": True,
            "sslRedirect": False,
            "customRequestHeaders": {"X-Empty": ""},
        },
        "ipWhiteList": {"sourceRange": ["10.0.0.0/8"], "ipStrategy": {}},
        "ipAllowList": {},
        "stripPrefix": {"prefixes": ["/a"], "forceSlash": False},
        "redirectScheme": {"scheme": "https", "permanent": True},
        "contentType": {},
    }
    assert result.problems == {}
    assert ("Middleware", "default", "m") in result.processed


def test_middleware_without_spec_is_empty_and_names_are_normalized():
    result = run(crd("Middleware", "a.b_c", ns="my-ns"))
    assert result.configuration["http"]["middlewares"] == {"my-ns-a-b-c": {}}


def test_basic_auth_from_a_basic_auth_secret_is_hashed():
    result = run(
        crd("Middleware", "m", {"basicAuth": {"secret": "s", "realm": "r", "removeHeader": True}}),
        secret(
            "s",
            {"username": "user", "password": "password"},
            secret_type="kubernetes.io/basic-auth",
        ),
    )
    assert middleware(result) == {
        "basicAuth": {
            "users": ["user:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="],
            "realm": "r",
            "removeHeader": True,
        }
    }


def test_basic_auth_htpasswd_lines_skip_blank_lines_and_carriage_returns():
    result = run(
        crd("Middleware", "m", {"basicAuth": {"secret": "s"}}),
        secret("s", {"users": f"{HTPASSWD}\r\n\n  \nother:x\n"}),
    )
    assert middleware(result) == {"basicAuth": {"users": [HTPASSWD, "  ", "other:x"]}}


def test_base64_wrapped_over_lines_is_read_as_go_reads_it():
    obj = secret("s", {"users": HTPASSWD})
    encoded = obj["data"]["users"]
    obj["data"]["users"] = encoded[:20] + "\n" + encoded[20:] + "\n"
    result = run(crd("Middleware", "m", {"digestAuth": {"secret": "s"}}), obj)
    assert middleware(result) == {"digestAuth": {"users": [HTPASSWD]}}


@pytest.mark.parametrize(
    ("spec", "objects", "reason", "message"),
    [
        (
            {"basicAuth": {}},
            [],
            "InvalidSpec",
            "Error while reading basic auth middleware: auth secret must be set",
        ),
        (
            {"basicAuth": {"secret": "s"}},
            [],
            "SecretNotFound",
            "Error while reading basic auth middleware: secret 'default/s' not found",
        ),
        (
            {"basicAuth": {"secret": "s"}},
            [secret("s", {"a": "x", "b": "y"})],
            "InvalidSecret",
            "Error while reading basic auth middleware: failed to load basic auth credentials: "
            "found 2 elements for secret 'default/s', must be single element exactly",
        ),
        (
            {"basicAuth": {"secret": "s"}},
            [secret("s", {"username": "u"}, secret_type="kubernetes.io/basic-auth")],
            "InvalidSecret",
            "Error while reading basic auth middleware: failed to load basic auth credentials: "
            "secret 'default/s' must contain both username and password keys",
        ),
        (
            {"digestAuth": {"secret": "s"}},
            [secret("s", {"users": "\n\n"})],
            "InvalidSecret",
            "Error while reading digest auth middleware: failed to load digest auth credentials: "
            "secret 'default/s' does not contain any credentials",
        ),
        (
            {"forwardAuth": {"trustForwardHeader": True}},
            [],
            "InvalidSpec",
            "Error while reading forward auth middleware: forward authentication requires an address",
        ),
        (
            {"forwardAuth": {"address": "http://auth", "tls": {"caSecret": "ca"}}},
            [],
            "SecretNotFound",
            "Error while reading forward auth middleware: failed to load auth ca secret: secret 'default/ca' not found",
        ),
        (
            {"forwardAuth": {"address": "http://auth", "tls": {"certSecret": "c"}}},
            [secret("c", {"tls.crt": "CERT"})],
            "InvalidSecret",
            "Error while reading forward auth middleware: failed to load auth secret: "
            "secret default/c is missing the following TLS data entries: tls.key",
        ),
        (
            {"plugin": {"p": {"key": "urn:k8s:secret:s"}}},
            [],
            "InvalidSpec",
            'Error while reading plugins middleware: malformed secret URN "urn:k8s:secret:s"',
        ),
        (
            {"plugin": {"p": {"key": "urn:k8s:secret:s:k"}}},
            [],
            "SecretNotFound",
            "Error while reading plugins middleware: secret default/s is not found",
        ),
        (
            {"plugin": {"p": {"deep": [{"key": "urn:k8s:secret:s:k"}]}}},
            [secret("s", {"other": "x"})],
            "InvalidSecret",
            'Error while reading plugins middleware: key "k" not found in secret default/s',
        ),
        (
            {"plugin": {"p": "not an object"}},
            [],
            "InvalidSpec",
            "Error while reading plugins middleware: json: cannot unmarshal string into Go value of type dynamic.PluginConf",
        ),
        (
            {"rateLimit": {"period": "ten"}},
            [],
            "InvalidSpec",
            'Error while reading rateLimit middleware: time: invalid duration "ten"',
        ),
        (
            {"rateLimit": {"redis": {"secret": "r"}}},
            [secret("r", {"username": "u"})],
            "InvalidSecret",
            "Error while reading rateLimit middleware: secret 'default/r' must contain both username and password keys",
        ),
        (
            {"retry": {"attempts": 3, "timeout": "1x"}},
            [],
            "InvalidSpec",
            'Error while reading retry middleware: time: unknown unit "x" in duration "1x"',
        ),
        (
            {"circuitBreaker": {"checkPeriod": "s"}},
            [],
            "InvalidSpec",
            'Error while reading circuit breaker middleware: time: invalid duration "s"',
        ),
        (
            {"chain": {"middlewares": [{"name": "other", "namespace": "elsewhere"}]}},
            [],
            "CrossNamespaceForbidden",
            "Error while reading chain middleware: invalid reference to middleware other: "
            "allowCrossNamespace is disabled, cross-namespace are disallowed",
        ),
        (
            {"chain": {"middlewares": [{"name": "other@kubernetescrd"}]}},
            [],
            "CrossNamespaceForbidden",
            "Error while reading chain middleware: invalid reference to middleware other@kubernetescrd: "
            "when allowCrossNamespace is disabled, @kubernetescrd references are disallowed",
        ),
    ],
)
def test_a_failing_part_skips_the_middleware_with_traefiks_message(spec, objects, reason, message):
    result = run(crd("Middleware", "m", spec), *objects)
    assert middleware(result) is None
    assert problems(result, "Middleware", "m") == [(reason, message)]
    assert ("Middleware", "default", "m") in result.processed


def test_forward_auth_defaults_and_tls_from_secrets():
    spec = {
        "forwardAuth": {
            "address": "https://auth",
            "trustForwardHeader": False,
            "authResponseHeaders": ["X-User"],
            "maxResponseBodySize": 0,
            "tls": {
                "caSecret": "ca",
                "certSecret": "cert",
                "caOptional": False,
                "insecureSkipVerify": True,
            },
        }
    }
    result = run(
        crd("Middleware", "m", spec),
        secret("ca", {"ca.crt": "CA"}),
        secret("cert", {"tls.crt": "CERT", "tls.key": "KEY"}),
    )
    assert middleware(result) == {
        "forwardAuth": {
            "address": "https://auth",
            "trustForwardHeader": False,
            "authResponseHeaders": ["X-User"],
            "maxResponseBodySize": 0,
            "maxBodySize": -1,
            "tls": {
                "ca": "CA",
                "cert": "CERT",
                "key": "KEY",
                "insecureSkipVerify": True,
                "caOptional": False,
            },
        }
    }


def test_ca_secret_with_a_single_entry_is_that_ca_and_otherwise_needs_a_ca_key():
    spec = {"forwardAuth": {"address": "https://auth", "tls": {"caSecret": "ca"}}}
    single = run(crd("Middleware", "m", spec), secret("ca", {"whatever": "CA"}))
    assert middleware(single)["forwardAuth"]["tls"] == {"ca": "CA"}
    both = run(crd("Middleware", "m", spec), secret("ca", {"tls.ca": "A", "ca.crt": "B"}))
    assert middleware(both)["forwardAuth"]["tls"] == {"ca": "A"}
    none = run(crd("Middleware", "m", spec), secret("ca", {"a": "1", "b": "2"}))
    assert problems(none, "Middleware", "m") == [
        (
            "InvalidSecret",
            "Error while reading forward auth middleware: failed to load auth ca secret: "
            "secret 'default/ca' has no CA block: secret default/ca contains neither tls.ca nor ca.crt",
        )
    ]


def test_plugin_configuration_reads_secret_urns_at_any_depth():
    spec = {
        "plugin": {
            "p": {
                "user": "admin",
                "password": "urn:k8s:secret:creds:password",
                "list": ["urn:k8s:secret:creds:user", 1.0, {"nested": "urn:k8s:secret:creds:user"}],
            },
            "empty": {},
        }
    }
    result = run(crd("Middleware", "m", spec), secret("creds", {"password": "pw", "user": "bob"}))
    assert middleware(result) == {
        "plugin": {
            "p": {"user": "admin", "password": "pw", "list": ["bob", 1, {"nested": "bob"}]},
            "empty": {},
        }
    }
    assert type(middleware(result)["plugin"]["p"]["list"][1]) is int  # float64 1 is written 1


def test_rate_limit_defaults_and_redis():
    result = run(
        crd("Middleware", "a", {"rateLimit": {}}),
        crd(
            "Middleware",
            "b",
            {
                "rateLimit": {
                    "average": 0,
                    "burst": 0,
                    "period": 60,
                    "sourceCriterion": {"requestHost": True},
                    "redis": {
                        "secret": "r",
                        "db": 2,
                        "readTimeout": "1s",
                        "tls": {"insecureSkipVerify": True},
                    },
                }
            },
        ),
        secret("r", {"username": "u", "password": "p"}),
    )
    assert middleware(result, "a") == {"rateLimit": {"burst": 1, "period": "1000000000ns"}}
    assert middleware(result, "b") == {
        "rateLimit": {
            "period": "60000000000ns",
            "sourceCriterion": {"requestHost": True},
            "redis": {
                "endpoints": ["localhost:6379"],
                "tls": {"insecureSkipVerify": True},
                "username": "u",
                "password": "p",
                "db": 2,
                "readTimeout": "1000000000ns",
                "writeTimeout": "3000000000ns",
                "dialTimeout": "5000000000ns",
            },
        }
    }


def test_retry_circuit_breaker_compress_buffering_defaults():
    result = run(
        crd(
            "Middleware",
            "m",
            {
                "retry": {"attempts": 2, "initialInterval": "100ms"},
                "circuitBreaker": {
                    "expression": "NetworkErrorRatio() > 0.5",
                    "recoveryDuration": 5,
                },
                "compress": {
                    "excludedContentTypes": [],
                    "minResponseBodyBytes": 0,
                    "defaultEncoding": "gzip",
                },
                "buffering": {"maxRequestBodyBytes": 10, "retryExpression": ""},
            },
        )
    )
    assert middleware(result) == {
        "retry": {"attempts": 2, "initialInterval": "100000000ns", "maxRequestBodyBytes": 2097152},
        "circuitBreaker": {
            "expression": "NetworkErrorRatio() > 0.5",
            "checkPeriod": "100000000ns",
            "fallbackDuration": "10000000000ns",
            "recoveryDuration": "5000000000ns",
            "responseCode": 503,
        },
        "compress": {"encodings": ["gzip", "br", "zstd"], "defaultEncoding": "gzip"},
        "buffering": {"maxRequestBodyBytes": 10},
    }


def test_chain_references_are_resolved():
    spec = {
        "chain": {
            "middlewares": [
                {"name": "a"},
                {"name": "b.c", "namespace": "other"},
                {"name": "x@file"},
            ]
        }
    }
    result = run(
        crd("Middleware", "m", spec),
        crd("Middleware", "empty", {"chain": {}}),
        allowCrossNamespace=True,
    )
    assert middleware(result) == {"chain": {"middlewares": ["default-a", "other-b-c", "x@file"]}}
    assert middleware(result, "empty") == {"chain": {}}


def test_errors_middleware_with_a_traefik_service_reference_and_rewrites():
    spec = {
        "errors": {
            "status": ["500-599"],
            "statusRewrites": {404: 200},
            "query": "/{status}",
            "service": {"name": "pages", "kind": "TraefikService"},
        }
    }
    result = run(crd("Middleware", "m", spec))
    assert middleware(result) == {
        "errors": {
            "status": ["500-599"],
            "statusRewrites": {"404": 200},
            "service": "default-pages",
            "query": "/{status}",
        }
    }


def test_errors_middleware_service_is_kept_when_a_later_part_fails():
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "pages", "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80}], "clusterIP": "10.0.0.1"},
    }
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "pages-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "pages"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}],
        "endpoints": [{"addresses": ["10.1.0.1"], "conditions": {"ready": True}}],
    }
    ok = run(
        crd("Middleware", "m", {"errors": {"service": {"name": "pages", "port": 80}}}),
        service,
        slice_,
    )
    assert middleware(ok) == {"errors": {"service": "default-m-errorpage-service"}}
    services = ok.configuration["http"]["services"]
    assert services["default-m-errorpage-service"]["loadBalancer"]["servers"] == [
        {"url": "http://10.1.0.1:80"}
    ]

    failing = run(
        crd(
            "Middleware",
            "m",
            {"errors": {"service": {"name": "pages", "port": 80}}, "plugin": {"p": 1}},
        ),
        service,
        slice_,
    )
    assert middleware(failing) is None
    assert "default-m-errorpage-service" in failing.configuration["http"]["services"]
    assert problems(failing, "Middleware", "m")[0][0] == "InvalidSpec"


def test_errors_middleware_service_not_found_skips_the_middleware():
    result = run(crd("Middleware", "m", {"errors": {"service": {"name": "missing", "port": 80}}}))
    assert middleware(result) is None
    [(reason, message)] = problems(result, "Middleware", "m")
    assert message.startswith("Error while reading error page middleware: ")
    assert reason == "ServiceNotFound"


@pytest.mark.parametrize(
    "spec",
    [
        ["not", "a", "mapping"],
        "string",
        {"headers": "nope"},
        {"headers": {"frameDeny": "yes"}},
        {"headers": {"customRequestHeaders": {"X": 1}}},
        {"ipAllowList": {"sourceRange": "10.0.0.0/8"}},
        {"rateLimit": {"average": "ten"}},
        {"rateLimit": {"period": 1.5}},
        {"retry": {"attempts": True}},
        {"chain": {"middlewares": "a"}},
        {"chain": {"middlewares": [["a"]]}},
        {"basicAuth": {"secret": ["s"]}},
        {"plugin": ["p"]},
        {"errors": {"statusRewrites": {"404": "200"}}},
        {"errors": {"service": "pages"}},
        {"compress": {"minResponseBodyBytes": {}}},
    ],
)
def test_hostile_spec_fails_the_middleware_without_crashing(spec):
    result = run(
        crd("Middleware", "m", spec), crd("Middleware", "good", {"addPrefix": {"prefix": "/p"}})
    )
    assert middleware(result) is None
    [(reason, message)] = problems(result, "Middleware", "m")
    assert reason == "InvalidSpec"
    assert message.startswith("json: cannot unmarshal ")
    assert middleware(result, "good") == {"addPrefix": {"prefix": "/p"}}


def test_tcp_middlewares():
    result = run(
        crd(
            "MiddlewareTCP",
            "a",
            {"ipAllowList": {"sourceRange": ["127.0.0.1/32"]}, "inFlightConn": {"amount": 0}},
        ),
        crd("MiddlewareTCP", "b", {"ipWhiteList": {"sourceRange": ["10.0.0.0/8"]}, "unknown": {}}),
        crd("MiddlewareTCP", "bad", {"inFlightConn": {"amount": "many"}}),
    )
    assert result.configuration["tcp"]["middlewares"] == {
        "default-a": {"ipAllowList": {"sourceRange": ["127.0.0.1/32"]}, "inFlightConn": {}},
        "default-b": {"ipWhiteList": {"sourceRange": ["10.0.0.0/8"]}},
    }
    assert problems(result, "MiddlewareTCP", "bad") == [
        (
            "InvalidSpec",
            "json: cannot unmarshal string into Go struct field MiddlewareTCPSpec.inFlightConn.amount of type int",
        )
    ]
    assert ("MiddlewareTCP", "default", "bad") in result.processed
