// WWW-Authenticate parsing (RFC 7235 §4.1, as registries send it; distribution's token auth spec).
//   Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"

export interface Challenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/** Parses every challenge in a WWW-Authenticate header value. Unknown schemes are kept as is. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const challenges: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    const s = value;
    while (i < s.length) {
      while (i < s.length && (s[i] === ' ' || s[i] === ',')) i++;
      const schemeStart = i;
      while (i < s.length && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(s[i]!)) i++;
      if (i === schemeStart) break;
      const scheme = s.slice(schemeStart, i).toLowerCase();
      const params: Record<string, string> = {};
      // auth-params: name=value or name="quoted", separated by commas, until the next scheme.
      for (;;) {
        while (i < s.length && s[i] === ' ') i++;
        const paramMatch = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(s.slice(i));
        if (!paramMatch) break;
        const name = paramMatch[1]!.toLowerCase();
        i += paramMatch[0].length;
        let paramValue = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            paramValue += s[i];
            i++;
          }
          i++;
        } else {
          const start = i;
          while (i < s.length && s[i] !== ',' && s[i] !== ' ') i++;
          paramValue = s.slice(start, i);
        }
        params[name] = paramValue;
        while (i < s.length && s[i] === ' ') i++;
        if (s[i] === ',') {
          // A comma either separates params or ends this challenge; peek for name=.
          const ahead = /^,\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(=?)/.exec(s.slice(i));
          if (ahead && ahead[2] === '=') {
            i++;
            continue;
          }
        }
        break;
      }
      challenges.push({ scheme, params });
    }
  }
  return challenges;
}
