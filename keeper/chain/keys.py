"""Signing keys: an encrypted keystore with a password file, or anvil's dev keys on a local chain only."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keyfile.exceptions import EthKeyfileValueError

from keeper.chain.anvil import ANVIL_CHAIN_ID, DEV_MNEMONIC
from keeper.exceptions import ConfigError

Account.enable_unaudited_hdwallet_features()

log = logging.getLogger("primevault.keys")


def dev_account(index: int) -> LocalAccount:
    """anvil's dev account `index` (same mnemonic as anvil's default)."""
    if not 0 <= index < 1000:
        raise ConfigError(f"dev account index {index} is out of range: use 0..999")
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def require_local_chain(chain_id: int) -> None:
    """Dev keys are public: refuse them anywhere but a local anvil chain."""
    if chain_id != ANVIL_CHAIN_ID:
        raise ConfigError(
            f"dev keys are public and only allowed on a local chain (chain id {ANVIL_CHAIN_ID}), "
            f"this chain is {chain_id}: use --keystore and --password-file"
        )


def keystore_account(keystore: Path, password_file: Path) -> LocalAccount:
    """Decrypts an Ethereum keystore (V3 JSON) with the password in `password_file`."""
    try:
        encrypted = json.loads(keystore.read_text())
    except FileNotFoundError:
        raise ConfigError(f"keystore {keystore} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"keystore {keystore} is not JSON") from None
    try:
        password = password_file.read_text().rstrip("\n")
    except FileNotFoundError:
        raise ConfigError(f"password file {password_file} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"password file {password_file} is not text: write the password in it as UTF-8") from None
    _warn_if_others_can_read(password_file)
    not_a_keystore = ConfigError(
        f"keystore {keystore} is not an encrypted Ethereum keystore (V3 JSON, as geth or `cast wallet` write)"
    )
    # Only a V3 keystore is handed to `decrypt`: it parses a JSON string it is given once more (the file holding
    # "abc" failed as JSON there, which read as a wrong password), and answers other versions with a traceback.
    if not _is_v3_keystore(encrypted):
        raise not_a_keystore
    try:
        key = Account.decrypt(encrypted, password)
    except EthKeyfileValueError:
        # The MAC the password derives does not match the keystore's: the one failure of a well-formed keystore.
        raise ConfigError(f"could not decrypt {keystore}: wrong password in {password_file}?") from None
    except (TypeError, KeyError, ValueError, AssertionError):
        # Fields of the wrong type or not hex, a key derivation it does not know: broken, whatever the password.
        raise not_a_keystore from None
    account: LocalAccount = Account.from_key(key)
    return account


def _is_v3_keystore(encrypted: object) -> bool:
    """Whether `encrypted`, parsed JSON, has the outline of a V3 keystore: an object of version 3 whose `crypto` is an
    object (its fields are checked by `decrypt`). Keys in any case, as `decrypt` reads them (older geth files write
    `Crypto`)."""
    if not isinstance(encrypted, dict):
        return False
    fields = {str(key).lower(): value for key, value in encrypted.items()}
    return fields.get("version") == 3 and isinstance(fields.get("crypto"), dict)


def _warn_if_others_can_read(password_file: Path) -> None:
    """The password beside its keystore is the key: a file other users of the machine can read (a umask's 644, a
    secret mounted world-readable) is said, not refused (some mounts cannot be narrowed)."""
    mode = stat.S_IMODE(password_file.stat().st_mode)
    if mode & 0o044:
        log.warning(
            "password file %s can be read by other users of this machine (mode %o): chmod 600 it", password_file, mode
        )
