"""A fake Hugging Face Hub at the HfApi boundary: it records every call and keeps each repo's files in a folder.

It answers as the Hub does where the scripts depend on it: `whoami` with the token's role and the user's orgs,
`repo_info` with the repo's visibility, `auth_check` with whether the token may write to an existing repo,
`create_commit` with every operation applied at once, `get_paths_info` with each file's size and git blob id (and
sha256 for the files the Hub stores in LFS).
"""

import fnmatch
import hashlib
import shutil
import types
from pathlib import Path

LFS_PATTERNS = ("*.safetensors", "*.bin", "*.png", "*.parquet", "*.pt", "*.pth")


class HubError(Exception):
    """An HTTP error from the fake Hub, with a response status like huggingface_hub's errors."""

    def __init__(self, status: int, message: str = ""):
        super().__init__(f"{status} {message}")
        self.response = types.SimpleNamespace(status_code=status)


def hub_error(kind: str) -> Exception:
    """An error as huggingface_hub really raises it: "network" (no answer: httpx's ConnectError, not an OSError),
    "offline", or an answered HTTP status with the error class the library maps it to, e.g. "503" or
    "401 RepositoryNotFoundError" (the Hub may answer 401 for a repo that does not exist)."""
    from huggingface_hub import errors

    try:
        import httpx2 as httpx  # huggingface_hub 2.x
    except ImportError:
        import httpx
    if kind == "network":
        return httpx.ConnectError("[Errno 111] Connection refused")
    if kind == "offline":
        return errors.OfflineModeIsEnabled("offline mode is on")
    status, _, name = kind.partition(" ")
    response = httpx.Response(int(status), request=httpx.Request("GET", "https://huggingface.co/api/simulated"))
    return getattr(errors, name or "HfHubHTTPError")(f"{status} simulated answer", response=response)


class FakeHub:
    """Stands in for the HfApi class (calling it returns itself). `fail_uploads` makes the next N commits fail with
    `error`; `user`, `role`, `orgs`, `scopes` shape what whoami answers; `repos` maps repo ids to {"private": bool}."""

    def __init__(self, root: Path, events: list, fail_uploads: int = 0, error=None):
        self.root, self.events, self.fail_uploads, self.error = root / "remote", events, fail_uploads, error
        self.root.mkdir(parents=True, exist_ok=True)
        self.tokens, self.downloaded = [], []
        self.user, self.role, self.orgs, self.scopes = "tester", "write", [], None
        self.repos: dict[str, dict] = {}

    def __call__(self, token=None, **_):
        self.tokens.append(token)
        return self

    @property
    def remote(self) -> Path:
        """The files of the one repo most tests push to."""
        return self.folder(next(iter(self.repos), "tester/repo"))

    def folder(self, repo_id: str) -> Path:
        path = self.root / repo_id.replace("/", "__")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def files(self, repo_id: str) -> list[str]:
        base = self.folder(repo_id)
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    # --- identity and repos -------------------------------------------------------------------------------
    def whoami(self, **_):
        self.events.append("whoami")
        token = {"role": self.role, "displayName": "test token"}
        if self.scopes is not None:
            token["fineGrained"] = {"global": [], "scoped": self.scopes}
        return {
            "name": self.user,
            "type": "user",
            "orgs": self.orgs,
            "auth": {"type": "access_token", "accessToken": token},
        }

    def repo_info(self, repo_id, repo_type=None, **_):
        self.events.append(("repo_info", repo_id))
        if repo_id not in self.repos:
            raise HubError(404, f"Repository Not Found for {repo_id}")
        return types.SimpleNamespace(id=repo_id, private=self.repos[repo_id]["private"])

    def auth_check(self, repo_id, repo_type=None, write=False, **_):
        """As the Hub answers: 404 for a repo that does not exist; with write=True, 403 unless the token may write to
        it (a write token, or a fine-grained one with repo.write on the repo or its namespace; in an organization, a
        user whose role writes)."""
        self.events.append(("auth_check", repo_id))
        if repo_id not in self.repos:
            raise hub_error("404 RepositoryNotFoundError")
        namespace = repo_id.split("/")[0]
        scoped = {s["entity"]["name"] for s in self.scopes or [] if "repo.write" in s["permissions"]}
        token_writes = self.role == "write" or (self.role == "fineGrained" and {namespace, repo_id} & scoped)
        role = next((o["roleInOrg"] for o in self.orgs if o["name"] == namespace), None)
        if write and not (token_writes and (namespace == self.user or role in ("admin", "write"))):
            raise hub_error("403")

    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None, **_):
        self.events.append(("create_repo", repo_id, private))
        if repo_id in self.repos and not exist_ok:
            raise HubError(409, "already exists")
        self.repos.setdefault(repo_id, {"private": bool(private)})
        self.folder(repo_id)

    # --- files --------------------------------------------------------------------------------------------
    def _maybe_fail(self, what):
        self.events.append(what)
        if self.fail_uploads:
            self.fail_uploads -= 1
            raise self.error("simulated failure") if self.error else hub_error("network")

    def create_commit(self, repo_id, operations, commit_message="", repo_type=None, **_):
        self._maybe_fail(("create_commit", tuple(sorted(getattr(op, "path_in_repo", "") for op in operations))))
        base = self.folder(repo_id)
        for op in operations:
            target = base / op.path_in_repo
            if type(op).__name__ == "CommitOperationAdd":
                target.parent.mkdir(parents=True, exist_ok=True)
                source = op.path_or_fileobj
                if isinstance(source, bytes):
                    target.write_bytes(source)
                else:
                    shutil.copy(source, target)
            elif target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)

    def upload_file(self, path_or_fileobj, path_in_repo, repo_id, repo_type=None, **_):
        self._maybe_fail(("upload_file", path_in_repo))
        target = self.folder(repo_id) / path_in_repo
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path_or_fileobj, target)

    def upload_folder(self, repo_id, folder_path, path_in_repo="", repo_type=None, delete_patterns=None, **_):
        self._maybe_fail(("upload_folder", path_in_repo))
        target = self.folder(repo_id) / path_in_repo
        if delete_patterns == "*" and path_in_repo:  # replace what was there, as the Hub does in the same commit
            shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder_path, target, dirs_exist_ok=True)

    def get_paths_info(self, repo_id, paths, repo_type=None, **_):
        self.events.append("get_paths_info")
        base, out = self.folder(repo_id), []
        for name in [paths] if isinstance(paths, str) else paths:
            path = base / name
            if not path.is_file():
                continue  # as the Hub does: a missing path is left out, not an error
            data = path.read_bytes()
            lfs = None
            if any(fnmatch.fnmatch(path.name, p) for p in LFS_PATTERNS) or len(data) > 10_000_000:
                lfs = types.SimpleNamespace(size=len(data), sha256=hashlib.sha256(data).hexdigest(), pointer_size=134)
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            out.append(types.SimpleNamespace(path=name, size=len(data), blob_id=blob, lfs=lfs))
        return out

    def list_repo_files(self, repo_id, repo_type=None, **_):
        self.events.append("list_repo_files")
        return self.files(repo_id)

    def snapshot_download(self, repo_id, local_dir, allow_patterns=None, ignore_patterns=(), repo_type=None, **_):
        self.events.append("snapshot_download")
        base, self.downloaded = self.folder(repo_id), []
        for rel in self.files(repo_id):
            if any(fnmatch.fnmatch(rel, p) for p in ignore_patterns or ()):
                continue
            if allow_patterns is not None and not any(fnmatch.fnmatch(rel, p) for p in allow_patterns):
                continue
            (Path(local_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(base / rel, Path(local_dir) / rel)
            self.downloaded.append(rel)
        return str(local_dir)

    def hf_hub_download(self, repo_id, filename, local_dir, repo_type=None, **_):
        self.events.append(("hf_hub_download", filename))
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.folder(repo_id) / filename, target)
        return str(target)

    def delete_folder(self, path_in_repo, repo_id, repo_type=None, **_):
        self._maybe_fail(("delete_folder", path_in_repo))
        if not (self.folder(repo_id) / path_in_repo).is_dir():  # the Hub refuses a commit that deletes nothing
            raise hub_error("404 RemoteEntryNotFoundError")
        shutil.rmtree(self.folder(repo_id) / path_in_repo)

    def delete_file(self, path_in_repo, repo_id, repo_type=None, **_):
        self._maybe_fail(("delete_file", path_in_repo))
        (self.folder(repo_id) / path_in_repo).unlink()


LICENSES = {"apache-2.0", "mit", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "bsd-3-clause", "other"}
VALIDATED: list[str] = []  # the cards the fake Hub was asked to validate, in order


def validate_card(card, repo_type=None):
    """Stands in for huggingface_hub's RepoCard.validate (a POST to the Hub's /api/validate-yaml): like the Hub, it
    rejects a licence that is not a licence id with a ValueError that gives the reason."""
    VALIDATED.append(str(card))
    license = card.data.to_dict().get("license")
    if license is not None and license not in LICENSES:
        raise ValueError(f'{{"error": "\\"license\\" must be one of [{", ".join(sorted(LICENSES))}, ...]"}}')
