/**
 * JSON text from PostgreSQL (`jsonb::text`) parsed without losing anything: numbers keep their exact
 * text (jsonb numbers are arbitrary-precision decimals; JSON.parse would round 12345678901234567890
 * and 0.10000000000000000001), and a canonical compact form to turn nested values into strings.
 *
 * The rule for Avro/Cassandra `map<string, string>` (record attributes, finding details): the value
 * must be a JSON object; a string member stays as it is; every other member becomes its canonical
 * compact JSON text — `null`, `true`, `false`, numbers exactly as PostgreSQL prints them (`1.50`
 * stays `1.50`), arrays and objects without whitespace and with object keys sorted by UTF-16 code
 * unit, recursively. The same input always gives the same map, whatever the source's key order.
 */

export class JsonNumber {
  constructor(readonly text: string) {}
}

export class JsonObject {
  constructor(readonly members: ReadonlyMap<string, JsonValue>) {}
}

export type JsonValue = string | boolean | null | JsonNumber | JsonObject | readonly JsonValue[];

export class JsonTextError extends Error {
  override readonly name = 'JsonTextError';
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_DEPTH = 512;

class Parser {
  private at = 0;

  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    const value = this.value(0);
    this.space();
    if (this.at !== this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private fail(message: string): never {
    throw new JsonTextError(`${message} at offset ${this.at}`);
  }

  private space(): void {
    const text = this.text;
    while (this.at < text.length) {
      const c = text.charCodeAt(this.at);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.at += 1;
    }
  }

  private value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
    this.space();
    switch (this.text[this.at] ?? '') {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  private literal<T extends boolean | null>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.at)) this.fail('unexpected token');
    this.at += word.length;
    return value;
  }

  private number(): JsonNumber {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail('unexpected token');
    this.at += match[0].length;
    return new JsonNumber(match[0]);
  }

  private string(): string {
    const text = this.text;
    const start = this.at;
    let escaped = false;
    for (let i = start + 1; i < text.length; i += 1) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        escaped = true;
        i += 1;
      } else if (c === 0x22) {
        this.at = i + 1;
        if (!escaped) return text.slice(start + 1, i);
        try {
          return JSON.parse(text.slice(start, i + 1)) as string;
        } catch {
          this.at = start;
          return this.fail('bad escape in string');
        }
      } else if (c < 0x20) {
        this.at = i;
        this.fail('control character in string');
      }
    }
    return this.fail('unterminated string');
  }

  private array(depth: number): JsonValue[] {
    this.at += 1;
    const items: JsonValue[] = [];
    this.space();
    if (this.text[this.at] === ']') {
      this.at += 1;
      return items;
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.at];
      this.at += 1;
      if (c === ']') return items;
      if (c !== ',') this.fail('expected , or ]');
    }
  }

  private object(depth: number): JsonObject {
    this.at += 1;
    const members = new Map<string, JsonValue>();
    this.space();
    if (this.text[this.at] === '}') {
      this.at += 1;
      return new JsonObject(members);
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail('expected a member name');
      const key = this.string();
      this.space();
      if (this.text[this.at] !== ':') this.fail('expected :');
      this.at += 1;
      members.set(key, this.value(depth + 1));
      this.space();
      const c = this.text[this.at];
      this.at += 1;
      if (c === '}') return new JsonObject(members);
      if (c !== ',') this.fail('expected , or }');
    }
  }
}

/** Parses JSON text; numbers keep their text. Throws JsonTextError on malformed input. */
export function parseJsonText(text: string): JsonValue {
  return new Parser(text).parseDocument();
}

/** The canonical compact JSON text of a value: no whitespace, object keys sorted, numbers verbatim. */
export function canonicalJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof JsonNumber) return value.text;
  if (value instanceof JsonObject) {
    const keys = [...value.members.keys()].sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value.members.get(k) ?? null)}`).join(',')}}`;
  }
  return `[${value.map(canonicalJson).join(',')}]`;
}

/**
 * A JSON object's text as a string map by the rule above, with keys in sorted order. Throws
 * JsonTextError when the text is not a JSON object.
 */
export function jsonObjectToStringMap(text: string): Record<string, string> {
  if (text === '{}') return {};
  const value = parseJsonText(text);
  if (!(value instanceof JsonObject)) throw new JsonTextError('not a JSON object');
  const keys = [...value.members.keys()].sort();
  // Object.fromEntries defines own properties, so even a member named "__proto__" is kept.
  return Object.fromEntries(
    keys.map((key) => {
      const member = value.members.get(key) ?? null;
      return [key, typeof member === 'string' ? member : canonicalJson(member)];
    }),
  );
}
