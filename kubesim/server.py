"""HTTP front end: URL routing, query and body parsing, auth, faults, responses (§0-§3).

One aiohttp catch-all handler parses the Kubernetes URL itself (so unknown URLs get the
plain-text 404 a real server sends), authenticates, consults the fault injector, reads
the body under the 3 MiB limit, decodes JSON/YAML, and hands over to ``api`` (objects),
``catalog`` (discovery) or ``watch`` (streams). It encodes every answer with orjson and
the exact ``Content-Type: application/json``. It records each request in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from kubesim import api as api_mod
from kubesim import (
    auth,
    bodies,
    catalog,
    faults,
    listing,
    merging,
    metadata,
    params,
    status,
    watch,
)
from kubesim.resources import ResourceType
from kubesim.status import FieldError, StatusError

JSON = dict[str, Any]
_NOT_FOUND = b"404 page not found\n"
_BASE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache, private"}


@dataclass(slots=True, kw_only=True)
class LoggedRequest:
    """One request, as tests read it from the request log (``code`` 0 while in flight)."""

    time: float
    method: str
    path: str
    query: str
    verb: str
    user: str
    user_agent: str
    code: int
    content_type: str = ""


@dataclass(slots=True, kw_only=True)
class Target:
    """A parsed resource URL."""

    rt: ResourceType
    namespace: str = ""
    name: str = ""
    subresource: str = ""


class PlainNotFoundError(Exception):
    """The URL names nothing served: answer the plain-text 404."""


@dataclass(kw_only=True)
class Frontend:
    """The request handler's collaborators."""

    api: api_mod.Api
    hub: watch.Hub
    faults: faults.Faults
    tokens: Mapping[str, str]
    server_address: Callable[[], str]
    requests: list[LoggedRequest] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    log_limit: int = 100_000
    min_watch_timeout: float = 1800.0
    shutting_down: bool = False

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Serve one request; never raises."""
        entry = self._log(request)
        code = 500
        try:
            response = await self._serve(request, entry)
            code = response.status
        except StatusError as exc:
            code = exc.code
            return _status_response(exc)
        except PlainNotFoundError:
            code = 404
            return web.Response(
                status=404, body=_NOT_FOUND, headers={"Content-Type": "text/plain; charset=utf-8"}
            )
        except (ConnectionResetError, asyncio.CancelledError):
            code = 499
            raise
        except Exception as exc:  # a bug in the emulator: answer like an apiserver would
            self.errors.append(exc)
            err = StatusError(
                code=500,
                reason="InternalError",
                message=f"Internal error occurred: {exc!r}",
                causes=[status.Cause(message=repr(exc))],
            )
            code = 500
            return _status_response(err)
        else:
            return response
        finally:
            entry.code = code

    async def _serve(self, request: web.BaseRequest, entry: LoggedRequest) -> web.StreamResponse:
        if self.shutting_down:
            err = status.service_unavailable("apiserver is shutting down")
            err.headers["Retry-After"] = "1"
            raise err
        user = auth.user_for(self.tokens, request.headers.get("Authorization"))
        if user is None:
            raise status.unauthorized()
        verb = _verb(request)
        entry.verb, entry.user = verb, user
        injected = self.faults.check(verb, request.path)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        if injected is not None and injected.apf_retry_after:
            return _apf_response(injected.apf_retry_after)
        if injected is not None and injected.error is not None:
            raise injected.error
        return await self._dispatch(request, verb, user)

    def _log(self, request: web.BaseRequest) -> LoggedRequest:
        if len(self.requests) >= self.log_limit:
            del self.requests[: self.log_limit // 10]
        entry = LoggedRequest(
            time=time.time(),
            method=request.method,
            path=request.path,
            query=request.query_string,
            verb="",
            user="",
            user_agent=request.headers.get("User-Agent", ""),
            code=0,
            content_type=request.headers.get("Content-Type", ""),
        )
        self.requests.append(entry)
        return entry

    async def _dispatch(self, request: web.BaseRequest, verb: str, user: str) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET":
            doc = self._discovery(parts)
            if doc is not None:
                return _json_response(200, doc)
        target = self._target(parts)
        if target is None:
            raise PlainNotFoundError
        q = request.query
        rt = target.rt
        if rt.namespaced and not target.namespace and verb not in ("list", "watch"):
            # The all-namespaces collection of a namespaced resource serves only list/watch.
            raise status.method_not_supported(resource=rt.plural, group=rt.group, action=verb)
        if verb == "watch":
            return await self._watch(request, target)
        if verb == "list":
            return self._list(target, q)
        if verb == "get":
            self._require_verb(target, "get")
            self._check_not_newer(q.get("resourceVersion", ""))
            reply = self.api.get(rt, target.namespace, target.name, target.subresource)
            return _reply_response(reply)
        if verb == "deletecollection":
            self._require_verb(target, "deletecollection")
            flt = listing.make_filter(
                rt,
                target.namespace,
                label_selector=q.get("labelSelector", ""),
                field_selector=q.get("fieldSelector", ""),
            )
            raw = await bodies.read_body(request)
            opts = params.delete_options(q, raw)
            return _reply_response(self.api.delete_collection(rt, flt, opts))
        if verb == "delete":
            self._require_verb(target, "delete")
            raw = await bodies.read_body(request)
            opts = params.delete_options(q, raw)
            return _reply_response(self.api.delete(rt, target.namespace, target.name, opts))
        return await self._write(request, verb, target, user)

    def _require_verb(self, target: Target, verb: str) -> None:
        rt = target.rt
        allowed = rt.verbs
        if target.subresource == "finalize":
            allowed = ("update",)
        elif target.subresource:
            allowed = ("get", "patch", "update")
        if verb not in allowed:
            action = {"deletecollection": "delete collection"}.get(verb, verb)
            raise status.method_not_supported(resource=rt.plural, group=rt.group, action=action)

    async def _write(
        self, request: web.BaseRequest, verb: str, target: Target, user: str
    ) -> web.StreamResponse:
        self._require_verb(target, verb)
        q = request.query
        rt = target.rt
        options_kind = {
            "create": "CreateOptions",
            "update": "UpdateOptions",
            "patch": "PatchOptions",
        }[verb]
        opts = params.write_options(
            q,
            user_agent=request.headers.get("User-Agent", ""),
            user=user,
            options_kind=options_kind,
        )
        raw = await bodies.read_body(request)
        content_type = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if verb == "patch":
            accepted = merging.accepted_patch_types(rt)
            if content_type not in accepted:
                raise status.unsupported_media_type(accepted)
            if content_type == "application/apply-patch+yaml":
                if not opts.explicit_manager:
                    raise params.options_invalid(
                        "PatchOptions",
                        FieldError(
                            type="FieldValueRequired",
                            field="fieldManager",
                            detail="is required for apply patch",
                        ),
                    )
                body = bodies.decode_yaml(raw)
            else:
                if opts.force:
                    raise params.options_invalid(
                        "PatchOptions",
                        FieldError(
                            type="FieldValueForbidden",
                            field="force",
                            detail="may not be specified for non-apply patch",
                        ),
                    )
                body = bodies.decode_json(raw, what="patch")
            reply = self.api.patch(
                rt,
                target.namespace,
                target.name,
                content_type=content_type,
                body=body,
                opts=opts,
                subresource=target.subresource,
            )
            return _reply_response(reply)
        body = (
            bodies.decode_yaml(raw)
            if "yaml" in content_type
            else bodies.decode_json(raw, what="object")
        )
        if verb == "create":
            return _reply_response(self.api.create(rt, target.namespace, body, opts))
        reply = self.api.update(
            rt, target.namespace, target.name, body=body, opts=opts, subresource=target.subresource
        )
        return _reply_response(reply)

    def _list(self, target: Target, q: Mapping[str, str]) -> web.StreamResponse:
        self._require_verb(target, "list")
        rt = target.rt
        flt = listing.make_filter(
            rt,
            target.namespace,
            label_selector=q.get("labelSelector", ""),
            field_selector=q.get("fieldSelector", ""),
        )
        rv, match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
        cont = q.get("continue", "")
        errs = params.list_option_errors(rv, match, cont, q)
        if errs:
            raise params.options_invalid("ListOptions", *errs)
        if cont and rv not in ("", "0"):
            raise status.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        at = None
        if rv not in ("", "0"):
            self._check_not_newer(rv)
            if match == "Exact":
                at = params.parse_rv(rv)
        limit = params.parse_int(q.get("limit", "0"), "limit")
        page = listing.list_page(
            self.api.store, flt, at=at, limit=max(limit, 0), continue_token=cont
        )
        return _json_response(200, listing.list_body(rt, page, lambda o: self.api.serve(rt, o)))

    def _check_not_newer(self, rv: str) -> None:
        """504 ResourceVersionTooLarge for a read at a revision the server has not reached."""
        if rv in ("", "0"):
            return
        wanted = params.parse_rv(rv)
        if wanted > self.api.store.rv:
            raise status.timeout(
                f"Too large resource version: {wanted}, current: {self.api.store.rv}",
                1,
                [
                    status.Cause(
                        reason="ResourceVersionTooLarge", message="Too large resource version"
                    )
                ],
            )

    async def _watch(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        self._require_verb(target, "watch")
        q = request.query
        rt = target.rt
        field_selector = q.get("fieldSelector", "")
        if target.name:  # a watch on one object is a name-selected watch of its collection
            term = f"metadata.name={target.name}"
            field_selector = f"{field_selector},{term}" if field_selector else term
        flt = listing.make_filter(
            rt,
            target.namespace,
            label_selector=q.get("labelSelector", ""),
            field_selector=field_selector,
        )
        rv = q.get("resourceVersion", "")
        if rv not in ("", "0"):
            params.parse_rv(rv)
        send_initial = params.optional_flag(q, "sendInitialEvents")
        errs = params.watch_option_errors(
            q.get("resourceVersionMatch", ""), send_initial, q.get("continue", "")
        )
        if errs:
            raise params.options_invalid("ListOptions", *errs)
        timeout_text = q.get("timeoutSeconds")
        timeout = float(params.parse_int(timeout_text, "timeoutSeconds")) if timeout_text else None
        if not timeout:
            # minRequestTimeout x [1, 2), as kube-apiserver picks it (timeoutSeconds=0 is unset).
            timeout = self.min_watch_timeout * (1 + random.random())  # noqa: S311
        req = watch.WatchRequest(
            flt=flt,
            resource_version=rv,
            send_initial=send_initial,
            bookmarks=params.flag(q.get("allowWatchBookmarks")),
            timeout=timeout,
            api_version=rt.api_version,
        )
        resp = web.StreamResponse(status=200, headers=_headers())
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            await self.hub.stream(req, resp.write)
        except watch.WatchEndedError as ended:
            if ended.abort and request.transport is not None:
                request.transport.abort()
                return resp
        except (ConnectionResetError, ConnectionError):
            return resp
        with contextlib.suppress(ConnectionResetError, ConnectionError):
            await resp.write_eof()
        return resp

    # URL parsing ------------------------------------------------------------------

    def _discovery(self, parts: list[str]) -> JSON | None:
        cat = self.api.catalog
        if parts == ["version"]:
            return dict(catalog.VERSION_INFO)
        if parts == ["api"]:
            return catalog.api_versions_doc(self.server_address())
        if parts == ["api", "v1"]:
            return cat.resource_list_doc("", "v1")
        if parts == ["apis"]:
            return cat.group_list_doc()
        if len(parts) == 2 and parts[0] == "apis":
            doc = cat.group_doc(parts[1])
            if doc is None:
                raise PlainNotFoundError
            return doc
        if len(parts) == 3 and parts[0] == "apis":
            doc = cat.resource_list_doc(parts[1], parts[2])
            if doc is None:
                raise PlainNotFoundError
            return doc
        return None

    def _target(self, parts: list[str]) -> Target | None:
        if len(parts) >= 3 and parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        cat = self.api.catalog
        namespace = ""
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        rt = cat.find(group, version, rest[0])
        if rt is None or len(rest) > 3:
            return None
        if namespace and not rt.namespaced:
            return None
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and not rt.has_subresource(sub):
            return None
        if rt.namespaced and name and not namespace:
            return None
        return Target(rt=rt, namespace=namespace, name=name, subresource=sub)


def _verb(request: web.BaseRequest) -> str:
    """The Kubernetes verb of a request (RequestInfo's rules, simplified)."""
    parts = [p for p in request.path.split("/") if p]
    method = request.method
    is_item = _names_item(parts)
    if method == "GET":
        if params.flag(request.query.get("watch")):
            return "watch"
        return "get" if is_item else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if is_item else "deletecollection"
    return method.lower()


def _names_item(parts: list[str]) -> bool:
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"]:
        rest = parts[3:]
    else:
        return True
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        rest = rest[2:]
    return len(rest) >= 2


# Bodies and responses ----------------------------------------------------------------


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {**_BASE_HEADERS, "Audit-Id": metadata.new_uid()}
    if extra:
        out.update(extra)
    return out


def _json_response(code: int, body: JSON, warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(status=code, body=orjson.dumps(body), headers=_headers())
    for warning in warnings or []:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        resp.headers.add("Warning", f'299 - "{escaped}"')
    return resp


def _reply_response(reply: api_mod.Reply) -> web.Response:
    return _json_response(reply.code, reply.body, reply.warnings)


def _status_response(err: StatusError) -> web.Response:
    return web.Response(
        status=err.code, body=orjson.dumps(err.to_json()), headers=_headers(err.headers)
    )


def _apf_response(retry_after: int) -> web.Response:
    return web.Response(
        status=429,
        body=faults.APF_BODY,
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Retry-After": str(retry_after),
            "X-Content-Type-Options": "nosniff",
        },
    )
