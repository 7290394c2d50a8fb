"""The labelled secrets/PII benchmark: realistic code in several languages with FAKE secrets planted.

    python -m benchmarks.secrets_corpus      # rewrites assets/governance/secrets_benchmark.jsonl

Snippets are written for this project (no third-party code). Inside them, `⟦TYPE:kind⟧` plants a
secret of a real format whose value is drawn from a seeded generator (random, so it has the entropy
of a real one, and fake: no service issued it), `⟦TYPE:kind=value⟧` plants a literal value (passwords,
addresses), and `⟦keep:kind=value⟧` / `⟦keep:kind⟧` marks a look-alike that must survive redaction
(digests, UUIDs, test vectors, documentation addresses, versions). Each JSONL record:
{id, lang, path, text, secrets: [{type, kind, start, end}], keep: [{kind, start, end}]}, spans in
characters of `text`. A test checks that the committed file is what this script writes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

OUT = Path(__file__).resolve().parent.parent / "assets" / "governance" / "secrets_benchmark.jsonl"
SEED = 18
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_B64URL = _ALNUM + "-_"


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps({"sub": str(rng.randrange(10**6, 10**7)), "role": "service",
                                  "iat": rng.randrange(1_600_000_000, 1_800_000_000)},
                                 separators=(",", ":")).encode())
    return f"{header}.{payload}.{_s(rng, _B64URL, 43)}"


def _pem(rng: random.Random, label: str = "RSA PRIVATE KEY", newline: str = "\n") -> str:
    body = base64.b64encode(bytes(rng.randrange(256) for _ in range(600))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return newline + newline.join(lines) + newline


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: "AKIA" + _s(r, string.ascii_uppercase + "234567", 16),
    "aws_secret_access_key": lambda r: _s(r, _B64, 40),
    "github_token": lambda r: "ghp_" + _s(r, _ALNUM, 36),
    "github_oauth": lambda r: "gho_" + _s(r, _ALNUM, 36),
    "github_pat": lambda r: "github_pat_" + _s(r, _ALNUM, 22) + "_" + _s(r, _ALNUM, 59),
    "gitlab_token": lambda r: "glpat-" + _s(r, _ALNUM + "-_", 20),
    "slack_token": lambda r: f"xoxb-{r.randrange(10**10, 10**11)}-{r.randrange(10**12, 10**13)}-"
                             + _s(r, _ALNUM, 24),
    "slack_webhook": lambda r: "https://hooks.slack.com/services/T" + _s(r, string.ascii_uppercase + string.digits, 8)
                               + "/B" + _s(r, string.ascii_uppercase + string.digits, 10) + "/" + _s(r, _ALNUM, 24),
    "stripe_key": lambda r: "sk_live_" + _s(r, _ALNUM, 48),
    "stripe_test_key": lambda r: "sk_test_" + _s(r, _ALNUM, 48),
    "google_api_key": lambda r: "AIza" + _s(r, _ALNUM + "-_", 35),
    "sendgrid_key": lambda r: "SG." + _s(r, _ALNUM + "-_", 22) + "." + _s(r, _ALNUM + "-_", 43),
    "twilio_key": lambda r: "SK" + _s(r, "0123456789abcdef", 32),
    "npm_token": lambda r: "npm_" + _s(r, _ALNUM, 36),
    "openai_key": lambda r: "sk-proj-" + _s(r, _ALNUM + "-_", 20) + "T3BlbkFJ" + _s(r, _ALNUM + "-_", 20),
    "jwt": _jwt,
    "private_key": _pem,
    "private_key_escaped": lambda r: _pem(r, newline="\\n"),
    "azure_key": lambda r: base64.b64encode(bytes(r.randrange(256) for _ in range(64))).decode(),
    "generic_api_key": lambda r: _s(r, _ALNUM, 32),
    "hex_api_key": lambda r: _s(r, "0123456789abcdef", 32),
    "django_secret": lambda r: "django-insecure-" + _s(r, string.ascii_lowercase + string.digits + "!@#%^&*(-_=+)", 40),
    "sha1": lambda r: hashlib.sha1(_s(r, _ALNUM, 12).encode()).hexdigest(),
    "sha256": lambda r: hashlib.sha256(_s(r, _ALNUM, 12).encode()).hexdigest(),
    "md5": lambda r: hashlib.md5(_s(r, _ALNUM, 12).encode()).hexdigest(),
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "git_commit": lambda r: hashlib.sha1(_s(r, _ALNUM, 20).encode()).hexdigest(),
    "sri_hash": lambda r: "sha512-" + base64.b64encode(hashlib.sha512(_s(r, _ALNUM, 9).encode()).digest()).decode(),
}

# ---------------------------------------------------------------------------------------------------
# The snippets. (id, lang, path, text with markers)
SNIPPETS: list[tuple[str, str, str, str]] = [
    ("py-settings", "Python", "mysite/settings.py", '''"""Django settings for the ordering service."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "⟦KEY:django_secret⟧"
DEBUG = False
ALLOWED_HOSTS = ["orders.acme-shop.io", "⟦IP_ADDRESS:ipv4=52.14.203.77⟧"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "orders",
        "USER": "orders_app",
        "PASSWORD": "⟦PASSWORD:password=Wint3r-Is-C0ming!⟧",
        "HOST": "10.2.0.15",
        "PORT": "5432",
    }
}

ADMINS = [("Ops", "⟦EMAIL:email=ops-oncall@acme-shop.io⟧"), ("Dev", "dev@example.com")]
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]
STATIC_URL = "/static/"
'''),
    ("py-aws-client", "Python", "tools/upload_reports.py", '''import boto3

# TODO: move to the vault before release
AWS_ACCESS_KEY_ID = "⟦KEY:aws_access_key_id⟧"
AWS_SECRET_ACCESS_KEY = "⟦KEY:aws_secret_access_key⟧"
# the docs' sample pair, used by the offline tests:
DOC_KEY_ID = "⟦keep:aws_doc_key=AKIAIOSFODNN7EXAMPLE⟧"


def client():
    return boto3.client(
        "s3",
        aws_access_key_id=AWS_ACCESS_KEY_ID,
        aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
        region_name="eu-west-1",
    )


def upload(path: str, bucket: str = "acme-reports") -> str:
    digest = "⟦keep:sha256⟧"
    client().upload_file(path, bucket, path)
    return digest
'''),
    ("py-tests-vectors", "Python", "tests/test_hashing.py", '''import base64
import hashlib
import uuid


def test_md5_vector():
    assert hashlib.md5(b"abc").hexdigest() == "⟦keep:md5_vector=900150983cd24fb0d6963f7d28e17f72⟧"


def test_sha1_vector():
    assert hashlib.sha1(b"abc").hexdigest() == "⟦keep:sha1_vector=a9993e364706816aba3e25717850c26c9cd0d89d⟧"


def test_sha256_empty():
    expected = "⟦keep:sha256_vector=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855⟧"
    assert hashlib.sha256(b"").hexdigest() == expected


def test_b64():
    assert base64.b64encode(b"any carnal pleasure.") == b"⟦keep:base64_vector=YW55IGNhcm5hbCBwbGVhc3VyZS4=⟧"


def test_uuid_roundtrip():
    u = uuid.UUID("⟦keep:uuid⟧")
    assert str(u) == str(uuid.UUID(u.hex))


def test_request_id_header(client):
    rid = "⟦keep:uuid⟧"
    resp = client.get("/health", headers={"X-Request-Id": rid})
    assert resp.headers["X-Request-Id"] == rid
'''),
    ("py-login-test", "Python", "tests/test_login.py", '''import os

import pytest

USERNAME = "qa-bot"
password = "⟦PASSWORD:password=Tr0ub4dor&3⟧"
admin_password = os.environ["ADMIN_PASSWORD"]
PASSWORD_FIELD = "password"
password_label = "Enter your password"


@pytest.fixture
def login(client):
    return client.post("/login", data={"user": USERNAME, "password": password})


def test_reset_mail(mailbox):
    assert mailbox.last().to == "⟦EMAIL:email=jonas.becker@web-haus.de⟧"
    assert mailbox.last().sender == "no-reply@example.org"
'''),
    ("py-scraper", "Python", "scraper/config.py", '''from dataclasses import dataclass

# Geo lookups go through the partner API
GOOGLE_MAPS_KEY = "⟦KEY:google_api_key⟧"
PROXY = "http://scraper:⟦PASSWORD:password=pr0xy-Pa55⟧@⟦IP_ADDRESS:ipv4=81.169.145.94⟧:3128"
TIMEOUT_S = 12.5
USER_AGENT = "AcmeBot/2.4.1 (+https://acme-shop.io/bot; bot@example.com)"


@dataclass
class Target:
    url: str
    selector: str = "div.price"


TARGETS = [Target("https://shop.example.net/item/42"), Target("http://⟦keep:doc_ip=198.51.100.23⟧/catalog")]
'''),
    ("js-server", "JavaScript", "server/index.js", '''const express = require("express");
const Stripe = require("stripe");

const stripe = Stripe("⟦KEY:stripe_key⟧");
const app = express();

// Slack alerts for failed payments
const SLACK_WEBHOOK = "⟦KEY:slack_webhook⟧";

app.post("/checkout", async (req, res) => {
  const session = await stripe.checkout.sessions.create({
    mode: "payment",
    customer_email: req.body.email,
    line_items: req.body.items,
  });
  res.json({ id: session.id });
});

app.listen(process.env.PORT || 3000, "0.0.0.0", () => {
  console.log("listening; support: ⟦EMAIL:email=billing.support@paynest.co⟧");
});
'''),
    ("js-config", "JavaScript", "config/default.js", '''module.exports = {
  db: {
    host: "⟦IP_ADDRESS:ipv4=159.89.214.31⟧",
    user: "app",
    password: "⟦PASSWORD:password=kX9#mQ2!vL⟧",
  },
  redis: { url: "redis://127.0.0.1:6379/0" },
  jwtSecret: process.env.JWT_SECRET,
  githubToken: "⟦KEY:github_token⟧",
  sentryDsn: "https://⟦keep:sentry_public_key=8f1c2d3e4b5a69788796a5b4c3d2e1f0⟧@o12345.ingest.sentry.io/678",
  version: "⟦keep:version=4.17.21⟧",
};
'''),
    ("ts-api", "TypeScript", "src/api/client.ts", '''import axios from "axios";

const API_BASE = "https://api.weatherly.io/v2";
const token = "⟦KEY:jwt⟧";

export async function forecast(city: string): Promise<Forecast> {
  const res = await axios.get(`${API_BASE}/forecast`, {
    params: { q: city },
    headers: { Authorization: `Bearer ${token}` },
  });
  return res.data as Forecast;
}

// jwt.io sample, used in the docs of this client:
export const SAMPLE_TOKEN =
  "⟦keep:sample_jwt=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c⟧";

export interface Forecast {
  city: string;
  tempC: number;
}
'''),
    ("ts-firebase", "TypeScript", "src/firebase.ts", '''import { initializeApp } from "firebase/app";

const firebaseConfig = {
  apiKey: "⟦KEY:google_api_key⟧",
  authDomain: "tasklist-7f3a2.firebaseapp.com",
  projectId: "tasklist-7f3a2",
  appId: "1:402985551234:web:⟦keep:hex_app_id=8c1f6d0a2b9e4c7d⟧",
};

export const app = initializeApp(firebaseConfig);
'''),
    ("java-mail", "Java", "src/main/java/com/acme/mail/MailConfig.java", '''package com.acme.mail;

import java.util.Properties;

/**
 * SMTP settings for the notification service.
 *
 * @author ⟦EMAIL:email=k.nakamura@acme-logistics.jp⟧
 */
public final class MailConfig {
    private static final String SMTP_HOST = "smtp.acme-logistics.jp";
    private static final String SMTP_USER = "notifier";
    private static final String SMTP_PASSWORD = "⟦PASSWORD:password=N0tify!2024⟧";
    private static final String SENDGRID_KEY = "⟦KEY:sendgrid_key⟧";
    private static final String PASSWORD_PROPERTY = "mail.smtp.password";

    public static Properties properties() {
        Properties p = new Properties();
        p.put("mail.smtp.host", SMTP_HOST);
        p.put("mail.smtp.auth", "true");
        p.put("mail.smtp.localhost", "⟦keep:doc_ip=192.0.2.10⟧");
        return p;
    }
}
'''),
    ("java-jdbc", "Java", "src/main/java/com/acme/db/Pool.java", '''package com.acme.db;

import com.zaxxer.hikari.HikariConfig;

public class Pool {
    static HikariConfig config() {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl("jdbc:mysql://⟦IP_ADDRESS:ipv4=34.118.72.5⟧:3306/inventory?user=inv&password=⟦PASSWORD:password=s3cure-Inv-88⟧");
        c.setPassword(System.getenv("DB_PASSWORD"));
        c.addDataSourceProperty("cachePrepStmts", "true");
        // build ⟦keep:version=2.3.1.4⟧ of the driver is required
        return c;
    }
}
'''),
    ("go-client", "Go", "internal/notify/slack.go", '''package notify

import (
	"net/http"
	"strings"
)

const botToken = "⟦KEY:slack_token⟧"

var password = "⟦PASSWORD:password=g0ph3rs-R-fun⟧"

// Endpoint is the upstream relay; the doc range is used in tests.
var Endpoint = "https://⟦IP_ADDRESS:ipv4=185.199.108.153⟧/relay"
var TestEndpoint = "https://⟦keep:doc_ip=203.0.113.9⟧/relay"

func Post(text string) error {
	req, _ := http.NewRequest("POST", Endpoint, strings.NewReader(text))
	req.Header.Set("Authorization", "Bearer "+botToken)
	_, err := http.DefaultClient.Do(req)
	return err
}
'''),
    ("go-mod", "Go", "go.sum", '''github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=
github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=
golang.org/x/net v0.25.0 h1:d/OCCoBEUq33pjydKrGQhw7IlUPI2Oylr+8qLx49kac=
'''),
    ("rb-mailer", "Ruby", "config/initializers/mailer.rb", '''ActionMailer::Base.smtp_settings = {
  address: "smtp.mailgun.org",
  port: 587,
  user_name: "⟦EMAIL:email=postmaster@mg.kitchenhelp.com⟧",
  password: "⟦PASSWORD:password=9f8e7d6c5b4a-mg⟧",
  authentication: :plain,
}

GITHUB_CLIENT_SECRET = "⟦KEY:hex_api_key⟧"
GITHUB_CALLBACK = "https://kitchenhelp.com/auth/github/callback"
'''),
    ("php-db", "PHP", "app/config/database.php", '''<?php
// Legacy configuration, see ticket OPS-112
return [
    'driver' => 'mysql',
    'host' => '⟦IP_ADDRESS:ipv4=46.101.7.212⟧',
    'database' => 'shop',
    'username' => 'shop',
    'password' => '⟦PASSWORD:password=Sh0pp1ng#Cart⟧',
    'charset' => 'utf8mb4',
    'admin_email' => '⟦EMAIL:email=a.dupont@boutique-lyon.fr⟧',
    'password_reset_route' => '/account/reset',
    'api_key' => '⟦KEY:generic_api_key⟧',
];
'''),
    ("cs-conn", "C#", "Data/AppDbContext.cs", '''using Microsoft.EntityFrameworkCore;

namespace Acme.Data
{
    public class AppDbContext : DbContext
    {
        private const string ConnectionString =
            "Server=⟦IP_ADDRESS:ipv4=20.61.15.107⟧;Database=Acme;User Id=sa;Password=⟦PASSWORD:password=Sql!Srv#2019⟧;";

        private const string StorageConnection =
            "DefaultEndpointsProtocol=https;AccountName=acmefiles;AccountKey=⟦KEY:azure_key⟧;EndpointSuffix=core.windows.net";

        protected override void OnConfiguring(DbContextOptionsBuilder options)
            => options.UseSqlServer(ConnectionString);
    }
}
'''),
    ("yaml-ci", "YAML", ".github/workflows/deploy.yml", '''name: deploy
on:
  push:
    branches: [main]
env:
  REGISTRY: ghcr.io
  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
  password: ${{ secrets.DEPLOY_PASSWORD }}
jobs:
  deploy:
    runs-on: ubuntu-22.04
    steps:
      - uses: actions/checkout@⟦keep:git_commit⟧
      - run: ./deploy.sh --host ⟦IP_ADDRESS:ipv4=95.216.34.180⟧ --password ⟦PASSWORD:password=d3ploy-N0w⟧
'''),
    ("yaml-app", "YAML", "config/application.yml", '''server:
  port: 8080
  address: 0.0.0.0
spring:
  datasource:
    url: jdbc:postgresql://db.internal:5432/app
    username: app
    password: ⟦PASSWORD:password=pgAppPw_2023⟧
  mail:
    username: ⟦EMAIL:email=alerts@brightpath-health.com⟧
    password: ${MAIL_PASSWORD}
management:
  secret: ⟦KEY:generic_api_key⟧
  checksum: ⟦keep:sha256⟧
'''),
    ("env-file", "Shell", ".env", '''# local development values
DATABASE_URL=postgres://dev:⟦PASSWORD:password=devpass123⟧@localhost:5432/dev
REDIS_URL=redis://localhost:6379
STRIPE_SECRET_KEY=⟦KEY:stripe_test_key⟧
OPENAI_API_KEY=⟦KEY:openai_key⟧
SMTP_PASSWORD=⟦PASSWORD:password=m4il-Relay-x⟧
ADMIN_EMAIL=⟦EMAIL:email=priya.raman@lumenfield.in⟧
SENTRY_ENVIRONMENT=development
API_KEY=your-api-key-here
'''),
    ("sh-deploy", "Shell", "scripts/deploy.sh", '''#!/usr/bin/env bash
set -euo pipefail

HOST=⟦IP_ADDRESS:ipv4=139.59.42.201⟧
export PGPASSWORD="$DB_PASSWORD"
curl -s -H "Authorization: Bearer ⟦KEY:github_oauth⟧" \\
  https://api.github.com/repos/acme/site/deployments
mysql -h "$HOST" -u root --password=⟦PASSWORD:password=r00t-M4ria⟧ shop < dump.sql
ssh deploy@$HOST "sudo systemctl restart shop"
echo "version ⟦keep:version=10.4.2.1⟧ deployed; mask ⟦keep:netmask=255.255.255.0⟧"
'''),
    ("docker", "Dockerfile", "Dockerfile", '''FROM python:3.11-slim
LABEL maintainer="⟦EMAIL:email=lars.eriksson@nordlys-data.se⟧"
ENV PIP_INDEX_URL=https://ci:⟦PASSWORD:password=n3xus-Read⟧@nexus.nordlys-data.se/repository/pypi/simple
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
EXPOSE 8000
'''),
    ("npmrc", "Shell", ".npmrc", '''registry=https://registry.npmjs.org/
//registry.npmjs.org/:_authToken=⟦KEY:npm_token⟧
always-auth=true
'''),
    ("pem-py", "Python", "deploy/keys.py", '''# Key used to sign release manifests (rotate quarterly)
SIGNING_KEY = """-----BEGIN RSA PRIVATE KEY-----⟦KEY:private_key⟧-----END RSA PRIVATE KEY-----"""

PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9
q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==
-----END PUBLIC KEY-----"""


def is_private(pem: str) -> bool:
    return pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
'''),
    ("pem-js", "JavaScript", "test/fixtures/sign.js", '''const crypto = require("crypto");

const key = "-----BEGIN PRIVATE KEY-----⟦KEY:private_key_escaped⟧-----END PRIVATE KEY-----";
const placeholder = "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----";

module.exports = (data) => crypto.sign("sha256", Buffer.from(data), key);
'''),
    ("rust-ci", "Rust", "build.rs", '''use std::env;

// CI publishes with this token when CARGO_REGISTRY_TOKEN is unset.
const FALLBACK_TOKEN: &str = "⟦KEY:gitlab_token⟧";

fn main() {
    let token = env::var("CARGO_REGISTRY_TOKEN").unwrap_or(FALLBACK_TOKEN.to_string());
    println!("cargo:rustc-env=PUBLISH_TOKEN={}", token);
    let addr: std::net::Ipv6Addr = "⟦keep:doc_ipv6=2001:db8:85a3::8a2e:370:7334⟧".parse().unwrap();
    let peer = "⟦IP_ADDRESS:ipv6=2a02:c207:3006:4821::1⟧";
    println!("{} {}", addr, peer);
}
'''),
    ("cpp-net", "C++", "src/net/resolver.cpp", '''#include <string>
#include <vector>

namespace net {

// Fallback resolvers: public DNS, then the office resolver.
static const std::vector<std::string> kResolvers = {"⟦keep:public_dns=8.8.8.8⟧", "⟦IP_ADDRESS:ipv4=213.133.98.98⟧"};
static const std::string kLoopback = "::1";

std::string describe(const std::string& host) {
    std::string password("⟦PASSWORD:password=c0rp-DNS-adm1n⟧");
    return host + "@" + std::to_string(kResolvers.size());
}

}  // namespace net
'''),
    ("c-header", "C", "include/version.h", '''/*
 * libtiny - a small compression library
 * Copyright (c) 2019 ⟦EMAIL:email=h.lindqvist@tinycomp.org⟧
 * SPDX-License-Identifier: Zlib
 */
#ifndef TINY_VERSION_H
#define TINY_VERSION_H

#define TINY_VERSION "⟦keep:version=1.2.13.1⟧"
#define TINY_OID "⟦keep:oid=1.3.6.1.4.1.57264⟧"
#define TINY_BUILD_HASH "⟦keep:git_commit⟧"

#endif
'''),
    ("json-pkg", "JSON", "package-lock.json", '''{
  "name": "web-dashboard",
  "version": "3.2.0",
  "lockfileVersion": 3,
  "packages": {
    "node_modules/lodash": {
      "version": "4.17.21",
      "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",
      "integrity": "⟦keep:sri_hash⟧"
    },
    "node_modules/uuid": {
      "version": "9.0.1",
      "integrity": "⟦keep:sri_hash⟧"
    }
  }
}
'''),
    ("json-creds", "JSON", "config/credentials.json", '''{
  "service": "billing-sync",
  "github_pat": "⟦KEY:github_pat⟧",
  "twilio": {"account_sid_doc": "see README", "api_key": "⟦KEY:twilio_key⟧"},
  "notify": ["⟦EMAIL:email=finance-team@quarry-labs.com⟧", "ops@example.com"],
  "allowlist": ["⟦IP_ADDRESS:ipv4=62.210.18.40⟧", "10.0.0.0/8", "⟦keep:doc_ip=192.0.2.44⟧"]
}
'''),
    ("md-readme", "Markdown", "README.md", '''# acme-cli

Install with `pip install acme-cli==⟦keep:version=2.0.1.3⟧`.

Set your key before the first run:

```bash
export ACME_API_KEY=<your-api-key>
acme login --user you@example.com --password "$ACME_PASSWORD"
```

The server listens on `http://localhost:8080` and `http://⟦keep:doc_ip=198.51.100.7⟧:8080` in the docs.
Questions: ⟦EMAIL:email=maintainers@acme-cli.dev⟧. Clone with `git clone git@github.com:acme/acme-cli.git`.
'''),
    ("sql-seed", "SQL", "db/seed.sql", '''INSERT INTO users (id, email, password_hash, last_ip) VALUES
  ('⟦keep:uuid⟧', '⟦EMAIL:email=olivia.hart@fernmail.co.uk⟧', '$2b$12$KIXQJ9Yhp0gQ8o1W6d1xEuXcN1Yfz9rG1Xk3m9QeV7sYxZ0oP2aHq', '⟦IP_ADDRESS:ipv4=86.29.114.3⟧'),
  ('⟦keep:uuid⟧', 'demo@example.com', '$2b$12$abcdefghijklmnopqrstuuJZ2f0zC9V1o9v8xQmYb4nT6uWkE3aF2', '127.0.0.1');
'''),
    ("py-clean", "Python", "pkg/utils.py", '''"""Helpers with many numbers and at-signs that are not personal data."""
import numpy as np

__version__ = "⟦keep:version=1.10.2.0⟧"


class Layer:
    def __init__(self, weight):
        self.weight = weight

    def __call__(self, x):
        return x@self.weight.T


@property
def key_fn(self):
    key = self.cache_key
    return key


def keys(mapping):
    return sorted(mapping.keys())


def token_count(text):
    tokens = text.split()
    return len(tokens)


EXAMPLE_URL = "https://user@example.com/path"
RETINA = "logo@2x.png"
NETWORK = "⟦keep:private_ip=192.168.1.10⟧"
TIMESTAMP = "12:30:45"
MAC = "00:1A:2B:3C:4D:5E"
'''),
    ("kt-android", "Kotlin", "app/src/main/java/com/acme/Config.kt", '''package com.acme

object Config {
    const val MAPS_API_KEY = "⟦KEY:google_api_key⟧"
    const val BACKEND = "https://⟦IP_ADDRESS:ipv4=104.248.63.19⟧:8443"
    const val SUPPORT = "⟦EMAIL:email=support@tapflow.app⟧"
    const val PASSWORD_MIN = 12
    const val DEFAULT_PASSWORD = "⟦PASSWORD:password=Tapfl0w-Temp!⟧"
    const val BUILD_UUID = "⟦keep:uuid⟧"
}
'''),
    ("py-auth-header", "Python", "clients/partner.py", '''import requests

HEADERS = {
    "Authorization": "Bearer ⟦KEY:bearer_token=8a7Kq2LmZ9pX4vR6tY1wE3sD5fG0hJ⟧",
    "Accept": "application/json",
}
PARTNER_ACCESS_TOKEN = "⟦KEY:generic_api_key⟧"
refresh_token = "⟦KEY:jwt⟧"
csrf_token_name = "csrf_token"


def fetch(path):
    return requests.get("https://partner-api.vendorhub.net" + path, headers=HEADERS, timeout=10)
'''),
    ("ipv6-conf", "YAML", "deploy/hosts.yml", '''hosts:
  edge-1:
    v4: ⟦IP_ADDRESS:ipv4=178.62.193.11⟧
    v6: ⟦IP_ADDRESS:ipv6=2a03:b0c0:3:d0::1b4:5001⟧
  edge-2:
    v4: ⟦IP_ADDRESS:ipv4=167.172.185.80⟧
    v6: ⟦IP_ADDRESS:ipv6=2604:a880:400:d1::7e2:3001⟧
  lab:
    v4: ⟦keep:private_ip=172.20.0.3⟧
    v6: ⟦keep:ula_ipv6=fd12:3456:789a:1::10⟧
    docs: ⟦keep:doc_ipv6=2001:db8:0:1::53⟧
'''),
    ("lua-game", "Lua", "server/config.lua", '''local config = {}

config.master = "⟦IP_ADDRESS:ipv4=51.77.64.229⟧"
config.port = 27015
config.rcon_password = "⟦PASSWORD:password=fr4gOut!⟧"
config.owner = "⟦EMAIL:email=zoltan.kiss@fragzone.hu⟧"
config.motd = "Welcome! Version ⟦keep:version=0.9.8.2⟧"

return config
'''),
    ("jsx-login", "JavaScript", "src/components/LoginForm.jsx", """import React, { useState } from "react";

const PASSWORD_POLICY = "^(?=.*[A-Z])(?=.*\\\\d).{12,}$";
const MASK = "********";

/**
 * Login form.
 * @param {string} email - the user's address
 * @param {function} onSubmit
 */
export default function LoginForm({ onSubmit }) {
  const [password, setPassword] = useState("");
  const onKey = (event) => {
    if (event.key === "Enter") onSubmit(password);
  };
  return (
    <form>
      <input type="password" name="password" autoComplete="current-password" onKeyDown={onKey} />
      <input type="email" placeholder="you@example.com" />
    </form>
  );
}
"""),
    ("json-i18n", "JSON", "locales/de.json", """{
  "login.password": "Passwort",
  "login.email": "E-Mail-Adresse",
  "login.forgot": "Passwort vergessen?",
  "settings.api_key": "API-Schlüssel",
  "settings.secret": "Geheimnis"
}
"""),
    ("py-auth", "Python", "accounts/auth.py", """import bcrypt

SECRET_NAME = "prod/db/credentials"
TOKEN_URL = "https://oauth2.googleapis.com/token"
token_type = "Bearer"
API_KEY_HEADER = "X-Api-Key"


class User:
    def __init__(self, name, password=None):
        self.name = name
        self.password = password

    def check(self, password):
        if password == "":
            return False
        return bcrypt.checkpw(password.encode(), self.password)


def login(user, password):
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    return hashed
"""),
    ("sh-notes", "Shell", "docs/setup.sh", """#!/bin/sh
# root@buildbox:~# apt install -y nginx
npm i -D @types/node@18.11.9 typescript@5.4.5
docker pull nginx@sha256:⟦keep:sha256⟧
ssh -i ~/.ssh/id_ed25519 ubuntu@$BASTION
git config user.email "$GIT_AUTHOR_EMAIL"
ping -c1 ⟦keep:private_ip=10.20.30.40⟧
"""),
    ("css-theme", "CSS", "static/theme.css", """@import url("fonts@2x.css");
@media (max-width: 600px) {
  .logo { background: url("logo@2x.png"); }
}
"""),
    ("go-secrets", "Go", "cmd/worker/main.go", """package main

import "os"

func main() {
	apiKey := "⟦KEY:generic_api_key⟧"
	dbPassword := "⟦PASSWORD:password=Go-W0rker!pw⟧"
	host := os.Getenv("HOST")
	_ = "⟦keep:uuid⟧"
	run(apiKey, dbPassword, host)
}
"""),
    ("php-mail", "PHP", "src/Mailer.php", """<?php
namespace App;

class Mailer
{
    private $password = '⟦PASSWORD:password=Ph3-M4iler#⟧';
    private $from = '⟦EMAIL:email=newsletter@gruenhof-markt.de⟧';
    private $replyTo = 'noreply@example.net';

    public function send(string $to): bool
    {
        return mail($to, 'Hallo', 'Text', "From: {$this->from}");
    }
}
"""),
]


_MARK = re.compile(r"⟦(KEY|PASSWORD|EMAIL|IP_ADDRESS|keep):([a-z0-9_]+)(?:=((?:(?!⟧)[\s\S])*))?⟧")


def build(seed: int = SEED) -> list[dict[str, Any]]:
    """The benchmark records, deterministic for a seed."""
    rng = random.Random(seed)
    records = []
    for fid, lang, path, src in SNIPPETS:
        text, secrets, keep, pos = [], [], [], 0
        out_len = 0
        for m in _MARK.finditer(src):
            chunk = src[pos:m.start()]
            text.append(chunk)
            out_len += len(chunk)
            kind_type, kind, value = m.group(1), m.group(2), m.group(3)
            if value is None:
                value = GENERATORS[kind](rng)
            span = {"start": out_len, "end": out_len + len(value)}
            if kind_type == "keep":
                keep.append({"kind": kind, **span})
            else:
                secrets.append({"type": kind_type, "kind": kind, **span})
            text.append(value)
            out_len += len(value)
            pos = m.end()
        text.append(src[pos:])
        records.append({"id": fid, "lang": lang, "path": path, "text": "".join(text), "secrets": secrets,
                        "keep": keep})
    return records


def dumps(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dumps(build()), encoding="utf-8")
    recs = build()
    print(f"{OUT}: {len(recs)} files, {sum(len(r['secrets']) for r in recs)} planted, "
          f"{sum(len(r['keep']) for r in recs)} look-alikes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
