import type { ApiAnswer } from '../../server/http/api.ts';
import { pageLang, problemText } from './errors.ts';

/** The basemap (tile URL templates, one per tile server, and the datum they are drawn in) and the features a layer may hold. */
export type MapConfig = ApiAnswer<'GET /api/v1/map/config'>;

/** The session's bearer token, set by the session provider; a 401 with it means the session ended. */
let token: string | null = null;
let sessionEnded: () => void = () => {};
export function setApiSession(value: string | null, onEnded: () => void) {
  token = value;
  sessionEnded = onEnded;
}

/** fetch with the session's token; a 401 signs the user out (the login screen then shows). */
export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  const response = await fetch(url, { ...init, headers });
  if (response.status === 401 && token) sessionEnded();
  return response;
}

/**
 * A POST followed as it goes (XHR: fetch reports no upload progress): `onUpload` hears the bytes sent, `onText` the
 * answer's text so far, as a streamed answer arrives. Resolves with the status, the Content-Type and the whole text.
 */
export function postFollowed(
  url: string,
  body: Blob,
  headers: Record<string, string>,
  onUpload: (sent: number, total: number) => void,
  onText: (text: string) => void,
) {
  return new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onUpload(event.loaded, event.total);
    xhr.onprogress = () => onText(xhr.responseText);
    xhr.onload = () => {
      if (xhr.status === 401 && token) sessionEnded();
      resolve({ status: xhr.status, type: xhr.getResponseHeader('Content-Type') ?? '', text: xhr.responseText });
    };
    xhr.onerror = () => reject(new Error(`POST ${url} failed`));
    xhr.send(body);
  });
}

/** What the API refused, in the interface's language (the one I18nProvider set on the page). */
export async function problemOf(response: Response): Promise<string> {
  const problem = await response.json().catch(() => null);
  return (problem && problemText(problem, pageLang())) ?? `${response.status} ${response.statusText}`;
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await apiFetch(url);
  if (!response.ok) throw new Error(await problemOf(response));
  return response.json() as Promise<T>;
}

export async function sendJson<T>(
  method: 'POST' | 'PATCH' | 'PUT',
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await apiFetch(url, { method, body: JSON.stringify(body), headers: { ...headers, 'Content-Type': 'application/json' } });
  if (!response.ok) throw new Error(await problemOf(response));
  return response.json() as Promise<T>;
}

/** Saves what a URL answers as a file: a plain link would not carry the token. */
export async function download(url: string, filename: string) {
  const response = await apiFetch(url);
  if (!response.ok) throw new Error(await problemOf(response));
  saveFile(await response.blob(), filename);
}

/** Hands the browser a file to save, as a link with `download` does. */
export function saveFile(blob: Blob, filename: string) {
  const href = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href, download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/**
 * MapLibre's requests (its transformRequest): those for the API's own vector tiles carry the session's token,
 * which a tile URL cannot; nothing else gets it (a basemap's server must never see it).
 */
export function withToken(url: string): { url: string; headers?: Record<string, string> } {
  const { origin, pathname } = new URL(url, location.href);
  return token && origin === location.origin && pathname.startsWith('/tiles/')
    ? { url, headers: { Authorization: `Bearer ${token}` } }
    : { url };
}

/**
 * Every value of a server type, listed for a menu: the web takes only types from the server, so its lists are
 * checked against them (a value missing or unknown fails the typecheck, naming the one missing).
 */
export const everyOf =
  <T extends string>() =>
  <const L extends readonly T[]>(list: L & ([Exclude<T, L[number]>] extends [never] ? unknown : { missing: Exclude<T, L[number]> })) =>
    list as L;
