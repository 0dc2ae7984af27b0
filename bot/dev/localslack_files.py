"""LocalSlack's files: uploads by the bot (files.getUploadURLExternal, files.completeUploadExternal) and by people."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .localslack_workspace import JSONDict, SlackError, Workspace, csv_values


@dataclass
class SlackUpload:
    """A file sent through files.getUploadURLExternal / files.completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False
    uploaded_by: str | None = None  # a person's file (from a file input); else the bot's


class Files:
    """The uploaded files by id, and the methods that upload and share them."""

    def __init__(self, workspace: Workspace, base_url: Callable[[], str]) -> None:
        self._workspace = workspace
        self._base_url = base_url  # known once the server listens
        self._uploads: dict[str, SlackUpload] = {}

    def uploads(self) -> dict[str, SlackUpload]:
        """Uploaded files by file id."""
        return dict(self._uploads)

    def get(self, file_id: str) -> SlackUpload | None:
        """One upload, or None."""
        return self._uploads.get(file_id)

    def add_user_file(self, user_id: str, filename: str, content: bytes) -> JSONDict:
        """A file a person uploaded in a modal's file input: the object Slack puts in ``state.values``."""
        file_id = self._workspace.new_id("F")
        upload = SlackUpload(file_id=file_id, filename=filename, length=len(content), content=content, completed=True)
        upload.uploaded_by = user_id
        self._uploads[file_id] = upload
        return self._file_object(upload)

    # -- methods -----------------------------------------------------------

    def get_upload_url(self, args: JSONDict) -> JSONDict:
        """files.getUploadURLExternal."""
        filename = args.get("filename")
        try:
            length = int(args["length"])
        except (KeyError, TypeError, ValueError):
            length = -1
        if not filename or length < 0:
            raise SlackError("invalid_arguments", "[ERROR] filename and length are required")
        file_id = self._workspace.new_id("F")
        self._uploads[file_id] = SlackUpload(file_id=file_id, filename=str(filename), length=length)
        return {"ok": True, "upload_url": f"{self._base_url()}upload/{file_id}", "file_id": file_id}

    def complete_upload(self, args: JSONDict) -> JSONDict:
        """files.completeUploadExternal: every file must have been uploaded first."""
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments", "[ERROR] files must be a non-empty list")
        uploads: list[tuple[SlackUpload, JSONDict]] = []
        for entry in entries:
            upload = self._uploads.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if upload is None or upload.content is None:
                raise SlackError("file_not_found")
            uploads.append((upload, entry))
        channels = csv_values(args.get("channel_id")) + csv_values(args.get("channels"))
        files: list[JSONDict] = []
        for upload, entry in uploads:
            upload.title = str(entry.get("title") or upload.filename)
            upload.channels = channels
            upload.initial_comment = args.get("initial_comment") or None
            upload.thread_ts = args.get("thread_ts") or None
            upload.completed = True
            files.append(self._file_object(upload))
        return {"ok": True, "files": files}

    def _file_object(self, upload: SlackUpload) -> JSONDict:
        workspace = self._workspace
        now = int(time.time())
        extension = upload.filename.rpartition(".")[2] if "." in upload.filename else ""
        private_url = f"https://files.slack.com/files-pri/{workspace.team_id}-{upload.file_id}/{upload.filename}"
        download_url = f"{self._base_url()}files/{upload.file_id}/{upload.filename}"
        return {
            "id": upload.file_id,
            "created": now,
            "timestamp": now,
            "name": upload.filename,
            "title": upload.title,
            "mimetype": mimetypes.guess_type(upload.filename)[0] or "application/octet-stream",
            "filetype": extension.lower() or "binary",
            "user": upload.uploaded_by or workspace.bot_user_id,
            "user_team": workspace.team_id,
            "size": len(upload.content or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": any(c.startswith("C") for c in upload.channels),
            "url_private": private_url,
            "url_private_download": download_url,  # served here, with the bot token, like files.slack.com
            "permalink": f"https://local-slack.slack.com/files/{workspace.bot_user_id}/{upload.file_id}/{upload.filename}",
        }
