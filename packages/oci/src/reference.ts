// Image references, following distribution/reference's grammar:
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [ domain "/" ] path
//   domain           := host [ ":" port ]
//   host             := domain-name | IPv4 | "[" IPv6 "]"
//   domain-name      := component ( "." component )*     component := [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
//   path             := path-component ( "/" path-component )*
//   path-component   := [a-z0-9]+ ( separator [a-z0-9]+ )*  separator := [_.] | "__" | "-"+
//   tag              := [\w][\w.-]{0,127}
//   digest           := algorithm ":" hex                   (validated by ./digest.ts)
//
// Normalisation as Docker does: the first path component is a domain only if it contains "."
// or ":" or is "localhost"; otherwise the domain is docker.io, and a single-component path gets
// "library/". The name (domain + path) is limited to 255 characters.
import { parseDigest, type Digest } from './digest.ts';
import { InvalidReferenceError } from './errors.ts';

export const dockerHubDomain = 'docker.io';
/** Where docker.io's API actually lives. */
export const dockerHubApiHost = 'registry-1.docker.io';

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainPattern = new RegExp(`^(?:${domainName}|${ipv6})(?::[0-9]+)?$`);
const pathComponentPattern = /^[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const maxNameLength = 255;

export interface Reference {
  /** Registry host as written (`docker.io`, `127.0.0.1:5000`, `registry.example.com`). */
  registry: string;
  /** Repository path, e.g. `demo/macos` or `library/ubuntu`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

/** Parses and normalises a reference; throws InvalidReferenceError saying what is wrong. */
export function parseReference(input: string, options: { defaultTag?: string | false } = {}): Reference {
  const raw = input.trim();
  if (raw === '') throw new InvalidReferenceError(input, 'it is empty');
  if (/\s/.test(raw)) throw new InvalidReferenceError(input, 'it contains whitespace');

  let rest = raw;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digestPart = rest.slice(at + 1);
    try {
      parseDigest(digestPart);
    } catch (error) {
      throw new InvalidReferenceError(input, (error as Error).message.replace(/^Invalid digest "[^"]*": /, 'bad digest: '));
    }
    digest = digestPart as Digest;
    rest = rest.slice(0, at);
  }

  // A tag is after the last ":" that comes after the last "/" (a ":" before it is a port).
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!tagPattern.test(tag)) {
      throw new InvalidReferenceError(
        input,
        tag === '' ? 'the tag after ":" is empty' : `tag "${tag}" must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`,
      );
    }
  }

  if (rest === '') throw new InvalidReferenceError(input, 'the repository name is missing');
  if (rest.length > maxNameLength) throw new InvalidReferenceError(input, `the name is longer than ${maxNameLength} characters`);

  const parts = rest.split('/');
  let registry = dockerHubDomain;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!domainPattern.test(first)) throw new InvalidReferenceError(input, `"${first}" is not a valid registry host[:port]`);
    const port = first.match(/:([0-9]+)$/)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
      throw new InvalidReferenceError(input, `port ${port} is out of range`);
    }
    registry = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => p === '')) throw new InvalidReferenceError(input, 'the repository path has an empty component');
  for (const part of parts) {
    if (!pathComponentPattern.test(part)) {
      const hint = part !== part.toLowerCase() ? ' (repository names must be lowercase)' : '';
      throw new InvalidReferenceError(input, `"${part}" is not a valid repository path component${hint}`);
    }
  }
  if (registry === dockerHubDomain && parts.length === 1) parts.unshift('library');

  const reference: Reference = { registry, repository: parts.join('/') };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  if (tag === undefined && digest === undefined && options.defaultTag !== false) reference.tag = options.defaultTag ?? 'latest';
  return reference;
}

/** `registry/repository[:tag][@digest]`, the canonical string. */
export function formatReference(reference: Reference): string {
  let out = `${reference.registry}/${reference.repository}`;
  if (reference.tag) out += `:${reference.tag}`;
  if (reference.digest) out += `@${reference.digest}`;
  return out;
}

/** What to ask the registry for: the digest when there is one (it never moves), else the tag. */
export function referenceTarget(reference: Reference): string {
  const target = reference.digest ?? reference.tag;
  if (!target) throw new InvalidReferenceError(formatReference(reference), 'it names neither a tag nor a digest');
  return target;
}

/** The host to talk to over HTTP for a reference's registry. */
export function apiHost(registry: string): string {
  return registry === dockerHubDomain ? dockerHubApiHost : registry;
}

/**
 * Whether to speak plain HTTP to a host by default: only loopback (localhost, 127.0.0.0/8, ::1).
 * Anything else needs an explicit `--plain-http`.
 */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function isValidTag(tag: string): boolean {
  return tagPattern.test(tag);
}
