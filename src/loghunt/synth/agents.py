"""User-agent strings as real clients send them (browsers, aws-cli, SDKs, Terraform, tools).

Versions are drawn from short, plausible lists so that the organisation ends up with the
few-dozen to ~100 distinct agents a real account shows, each user keeping theirs for weeks.
"""

from __future__ import annotations

import numpy as np

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.3; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:122.0) Gecko/20100101 Firefox/122.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.66",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36 Edg/121.0.2277.128",
)
CONSOLE_INTERNAL = "AWS Internal"

_CLI_VERSIONS = ("2.13.25", "2.15.10", "2.15.17", "2.15.30", "2.15.38", "2.16.1", "2.17.4")
_PYTHON_FOR_CLI = ("3.11.6", "3.11.8", "3.12.6")
_CLI_PLATFORMS = (
    "Darwin/23.3.0 exe/x86_64",
    "Darwin/23.4.0 exe/arm64",
    "Darwin/22.6.0 exe/x86_64",
    "Windows/10 exe/AMD64",
    "Windows/11 exe/AMD64",
    "Linux/6.5.0-26-generic exe/x86_64.ubuntu.22",
    "Linux/5.15.0-97-generic exe/x86_64.ubuntu.22",
    "Linux/6.7.9-200.fc39.x86_64 exe/x86_64.fedora.39",
)
_BOTO_VERSIONS = ("1.33.13", "1.34.34", "1.34.51", "1.34.69", "1.34.84")
_PYTHON = ("3.10.12", "3.11.8", "3.12.2")
_SDK_PLATFORMS = ("linux#6.5.0-26-generic", "macos#23.3.0", "linux#5.15.0-1055-aws", "windows#10")
TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) "
    "terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.25.3 ua/2.0 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64",
    "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) "
    "terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go/1.49.6 (go1.21.5; darwin; arm64)",
)
CI_AGENTS = (
    TERRAFORM[0],
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.7 md/GOOS#linux md/GOARCH#amd64 api/ecr#1.27.1",
)
LAMBDA_AGENTS = (
    "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.209-219.826.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.42",
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10.214-225.855.amzn2.x86_64 lang/js md/nodejs#20.12.0 "
    "exec-env/AWS_Lambda_nodejs20.x",
    "aws-sdk-java/2.25.16 Linux/5.10.213-221.824.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10 "
    "Java/17.0.10 vendor/Amazon.com_Inc. exec-env/AWS_Lambda_java17 io/sync http/Apache",
)
MONITOR_AGENT = "aws-sdk-go/1.50.38 (go1.21.8; linux; amd64)"
AUDIT_AGENT = (
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.15.0-1055-aws md/arch#x86_64 "
    "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.34.69 prowler/3.15.0"
)
SSH_CLIENTS = (
    "SSH-2.0-OpenSSH_9.6",
    "SSH-2.0-OpenSSH_9.0",
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
    "SSH-2.0-PuTTY_Release_0.80",
    "SSH-2.0-OpenSSH_for_Windows_8.6",
)
VPN_CLIENTS = (
    "PAN GlobalProtect/6.2.1-263 (Microsoft Windows 11 Enterprise , 64-bit)",
    "PAN GlobalProtect/6.2.1-263 (Apple Mac OS X 14.3.1)",
    "PAN GlobalProtect/6.1.3-17 (Microsoft Windows 10 Enterprise , 64-bit)",
    "PAN GlobalProtect/6.2.0-259 (Linux Ubuntu 22.04)",
)
# Clients attackers point at stolen keys. Most are ordinary SDK strings on a pentest distro;
# that is how GuardDuty's PenTest findings spot them, and why they are not trivially unique.
OFFENSIVE = (
    "Boto3/1.26.45 Python/3.11.2 Linux/6.1.0-kali5-amd64 Botocore/1.29.45",
    "aws-cli/2.13.4 Python/3.11.4 Linux/6.3.0-kali1-amd64 exe/x86_64.kali.2023 prompt/off",
    "aws-cli/1.22.34 Python/3.9.12 Linux/5.16.0-parrot1-amd64 botocore/1.24.0",
    "Boto3/1.24.59 Python/3.10.6 Linux/5.18.0-kali7-amd64 Botocore/1.27.59 Pacu/1.5.1",
    "Scout Suite/5.13.0 Boto3/1.28.0 Python/3.10.12 Linux/5.15.0-89-generic Botocore/1.31.0",
    "aws-sdk-go/1.44.122 (go1.19.3; linux; amd64) "
    "stratus-red-team_3f1c2a9e-5b7d-4c1e-9a2f-6d8e0b4c7a11",
    "Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux#6.5.0-kali3-amd64 md/arch#x86_64 "
    "lang/python#3.11.5 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.57",
    "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 cloudfox/1.12.3",
)
# What a careful attacker sends instead: stock tooling on a rented Linux box.
GENERIC_ATTACKER = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off",
    "aws-cli/2.15.17 Python/3.11.6 Linux/5.15.0-1055-aws exe/x86_64.ubuntu.22 prompt/off",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0-1016-aws md/arch#x86_64 "
    "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-cli/2.15.38 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12 prompt/off",
)


def aws_cli(rng: np.random.Generator, version: str | None = None) -> str:
    """An aws-cli v2 agent with a random (or given) version on a random platform."""
    ver = version or str(rng.choice(_CLI_VERSIONS))
    return (
        f"aws-cli/{ver} Python/{rng.choice(_PYTHON_FOR_CLI)} "
        f"{rng.choice(_CLI_PLATFORMS)} prompt/off"
    )


def upgraded_cli(agent: str) -> str:
    """The same install after an upgrade to the newest aws-cli version."""
    old = agent.split(" ", 1)[0].split("/", 1)[1]
    return agent.replace(f"aws-cli/{old}", f"aws-cli/{_CLI_VERSIONS[-1]}", 1)


def boto3(rng: np.random.Generator) -> str:
    """A Boto3 agent as botocore 1.34 formats it."""
    ver = str(rng.choice(_BOTO_VERSIONS))
    return (
        f"Boto3/{ver} md/Botocore#{ver} ua/2.0 os/{rng.choice(_SDK_PLATFORMS)} "
        f"md/arch#x86_64 lang/python#{rng.choice(_PYTHON)} md/pyimpl#CPython "
        f"cfg/retry-mode#legacy Botocore/{ver}"
    )


def next_cli_version(current: str) -> bool:
    """True when an aws-cli agent is not on the newest version yet (so it can upgrade)."""
    return current.startswith("aws-cli/") and not current.startswith(f"aws-cli/{_CLI_VERSIONS[-1]}")
