import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from './errors.ts';
import { formatReference, isLoopbackHost, parseReference } from './reference.ts';

const hex = 'a'.repeat(64);

describe('parseReference', () => {
  it.each([
    ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest' }],
    ['ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }],
    ['cirruslabs/macos', { registry: 'docker.io', repository: 'cirruslabs/macos', tag: 'latest' }],
    ['127.0.0.1:5000/demo/macos:15.2', { registry: '127.0.0.1:5000', repository: 'demo/macos', tag: '15.2' }],
    ['localhost/demo', { registry: 'localhost', repository: 'demo', tag: 'latest' }],
    ['localhost:5000/a/b/c:v1', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v1' }],
    ['ghcr.io/org/img@sha256:' + hex, { registry: 'ghcr.io', repository: 'org/img', digest: 'sha256:' + hex }],
    ['ghcr.io/org/img:1.0@sha256:' + hex, { registry: 'ghcr.io', repository: 'org/img', tag: '1.0', digest: 'sha256:' + hex }],
    ['[::1]:5000/x:y', { registry: '[::1]:5000', repository: 'x', tag: 'y' }],
    ['reg.example.com/a__b/c-d.e_f:T_1.2-3', { registry: 'reg.example.com', repository: 'a__b/c-d.e_f', tag: 'T_1.2-3' }],
  ])('parses %s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['demo/Macos', /lowercase/],
    ['reg.example.com/Demo', /lowercase/],
    ['demo/macos:', /tag after ":" is empty/],
    ['demo/macos:-bad', /tag "-bad"/],
    ['demo/macos:' + 'x'.repeat(129), /1-128 characters/],
    ['demo/macos@sha256:abc', /64 lowercase hex/],
    ['demo/macos@md5:' + 'a'.repeat(32), /unsupported algorithm/],
    ['demo//macos', /empty component/],
    ['demo/ma cos', /whitespace/],
    ['reg.example.com:99999/a', /port 99999/],
    ['-bad.example.com/a', /not a valid registry host/],
    ['a/' + 'b'.repeat(260), /longer than 255/],
    ['demo/mac$os', /not a valid repository path component/],
  ])('rejects %s with a reason', (input, reason) => {
    expect(() => parseReference(input)).toThrow(InvalidReferenceError);
    expect(() => parseReference(input)).toThrow(reason);
  });

  it('round-trips through formatReference', () => {
    const text = '127.0.0.1:5000/demo/macos:15.2@sha256:' + hex;
    expect(formatReference(parseReference(text))).toBe(text);
  });

  it('knows loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('[::1]:80')).toBe(true);
    expect(isLoopbackHost('registry.example.com')).toBe(false);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });
});
