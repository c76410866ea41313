import { Lexer, type Token, type Tokens } from 'marked';
import type { ReactNode } from 'react';

/**
 * Runbooks and postmortems as Markdown, drawn as React elements from marked's tokens. Nothing is ever
 * set as HTML: the text comes from imported files, so raw HTML in it is shown as text, a link goes
 * only to http(s), mailto or a path, and an image is a link to it (the console loads nothing else).
 */
export function Markdown({ text }: { text: string }) {
  return <>{blocks(Lexer.lex(text, { gfm: true }))}</>;
}

/** The safe form of a link's target, or undefined for `javascript:`, `data:` and the like. */
function safeHref(href: string): string | undefined {
  const trimmed = href.trim();
  if (/^(?:https?:|mailto:)/i.test(trimmed)) return trimmed;
  // A path or an anchor, with no scheme before its first slash, question mark or hash.
  if (!/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) return trimmed;
  return undefined;
}

/** Each token drawn with a key from its offset in the source: stable, unlike a list index. */
function keyed(tokens: readonly Token[], draw: (token: Token, key: string) => ReactNode): ReactNode[] {
  let offset = 0;
  return tokens.map((token) => {
    const key = `${token.type}@${offset}`;
    offset += token.raw.length;
    return draw(token, key);
  });
}

function blocks(tokens: readonly Token[]): ReactNode[] {
  return keyed(tokens, block);
}

function block(token: Token, key: string): ReactNode {
  const item = token as Tokens.Generic;
  switch (token.type) {
    case 'heading': {
      const Tag = `h${Math.min(6, Math.max(1, (token as Tokens.Heading).depth))}` as 'h1';
      return <Tag key={key}>{inline(item.tokens ?? [])}</Tag>;
    }
    case 'paragraph':
      return <p key={key}>{inline(item.tokens ?? [])}</p>;
    case 'code': {
      const code = token as Tokens.Code;
      const lang = (code.lang ?? '').trim().split(/\s+/)[0] ?? '';
      return (
        // Focusable: a wide block scrolls sideways, and a keyboard user must be able to scroll it.
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region needs keyboard access.
        <pre key={key} className="code" data-lang={lang || undefined} tabIndex={0}>
          <code className={lang ? `language-${lang}` : undefined}>{highlight(code.text, lang)}</code>
        </pre>
      );
    }
    case 'blockquote':
      return <blockquote key={key}>{blocks(item.tokens ?? [])}</blockquote>;
    case 'list': {
      const list = token as Tokens.List;
      const items = list.items.map((entry, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a rendered document's items never reorder.
        <li key={index}>{list.loose ? blocks(entry.tokens) : keyed(entry.tokens, tight)}</li>
      ));
      return list.ordered ? (
        <ol key={key} start={typeof list.start === 'number' && list.start !== 1 ? list.start : undefined}>
          {items}
        </ol>
      ) : (
        <ul key={key}>{items}</ul>
      );
    }
    case 'table': {
      const table = token as Tokens.Table;
      return (
        <div key={key} className="table-scroll">
          <table>
            <thead>
              <tr>
                {table.header.map((cell, index) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: columns never reorder.
                  <th key={index} scope="col" style={cell.align ? { textAlign: cell.align } : undefined}>
                    {inline(cell.tokens)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {table.rows.map((row, at) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: rows never reorder.
                <tr key={at}>
                  {row.map((cell, index) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: columns never reorder.
                    <td key={index} style={cell.align ? { textAlign: cell.align } : undefined}>
                      {inline(cell.tokens)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
    case 'hr':
      return <hr key={key} />;
    case 'checkbox':
      return (item.checked as boolean) ? '☑ ' : '☐ ';
    case 'space':
    case 'def':
      return null;
    case 'html':
      // Raw HTML is shown as the text it is, never parsed.
      return (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region needs keyboard access.
        <pre key={key} className="raw-html" tabIndex={0}>
          {item.text as string}
        </pre>
      );
    default:
      return item.tokens ? <p key={key}>{inline(item.tokens)}</p> : <p key={key}>{item.raw}</p>;
  }
}

/** A tight list item's children: its text runs inline, nested lists stay blocks. */
function tight(token: Token, key: string): ReactNode {
  if (token.type === 'text') {
    const text = token as Tokens.Text;
    return <span key={key}>{text.tokens ? inline(text.tokens) : text.text}</span>;
  }
  return block(token, key);
}

function inline(tokens: readonly Token[]): ReactNode[] {
  return keyed(tokens, (token, key) => {
    const item = token as Tokens.Generic;
    switch (token.type) {
      case 'text':
        return item.tokens ? <span key={key}>{inline(item.tokens)}</span> : decode(item.text as string);
      case 'escape':
        return decode(item.text as string);
      case 'strong':
        return <strong key={key}>{inline(item.tokens ?? [])}</strong>;
      case 'em':
        return <em key={key}>{inline(item.tokens ?? [])}</em>;
      case 'del':
        return <del key={key}>{inline(item.tokens ?? [])}</del>;
      case 'codespan':
        return <code key={key}>{decode(item.text as string)}</code>;
      case 'br':
        return <br key={key} />;
      case 'link': {
        const href = safeHref((token as Tokens.Link).href);
        const children = inline(item.tokens ?? []);
        return href ? (
          <a key={key} href={href} rel="noopener noreferrer">
            {children}
          </a>
        ) : (
          <span key={key}>{children}</span>
        );
      }
      case 'image': {
        const image = token as Tokens.Image;
        const href = safeHref(image.href);
        const label = `image: ${image.text || image.href}`;
        return href ? (
          <a key={key} href={href} rel="noopener noreferrer">
            {label}
          </a>
        ) : (
          <span key={key}>{label}</span>
        );
      }
      case 'html':
        return <code key={key}>{item.text as string}</code>;
      default:
        return item.raw as string;
    }
  });
}

/** The character references Markdown text may spell (`&lt;`, `&amp;`); React escapes what it shows. */
function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => ENTITIES[name] ?? _);
}
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

type Rule = [className: string, pattern: RegExp];

const COMMON: Rule[] = [
  ['string', /"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|`[^`\n]*`/y],
  ['number', /\b\d+(?:\.\d+)?(?:ms|s|m|h|d|%)?\b/y],
];

/**
 * A small highlighter for the languages runbooks use (shell, PromQL, SQL, YAML, JSON): comments,
 * strings, numbers, keywords and, in shell, options. Unknown languages get the same general rules.
 */
const LANGUAGES: Record<string, Rule[]> = {
  sh: [
    ['comment', /#[^\n]*/y],
    ...COMMON,
    ['variable', /\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/y],
    ['option', /(?<![\w-])--?[A-Za-z][\w-]*/y],
    ['keyword', /\b(?:if|then|else|fi|for|do|done|while|case|esac|in|export|sudo)\b/y],
  ],
  promql: [
    ['comment', /#[^\n]*/y],
    ['string', /"(?:[^"\\\n]|\\.)*"|'[^'\n]*'/y],
    ['number', /\b\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y)?\b/y],
    ['keyword', /\b(?:by|without|on|ignoring|group_left|group_right|offset|and|or|unless|bool)\b/y],
    ['function', /\b[a-z_]+(?=\()/y],
  ],
  sql: [
    ['comment', /--[^\n]*/y],
    ...COMMON,
    [
      'keyword',
      /\b(?:select|from|where|and|or|not|null|is|in|as|join|left|right|inner|on|group|by|order|limit|having|insert|into|values|update|set|delete|create|drop|alter|table|index|begin|commit|rollback|now|interval|desc|asc|case|when|then|else|end|distinct|count|show|explain|analyze|kill|terminate)\b/iy,
    ],
  ],
  yaml: [['comment', /#[^\n]*/y], ['key', /^[ \t-]*[\w.-]+(?=:)/my], ...COMMON],
  json: [['key', /"(?:[^"\\\n]|\\.)*"(?=\s*:)/y], ...COMMON, ['keyword', /\b(?:true|false|null)\b/y]],
};
const ALIASES: Record<string, string> = {
  bash: 'sh',
  shell: 'sh',
  console: 'sh',
  zsh: 'sh',
  yml: 'yaml',
  postgresql: 'sql',
  psql: 'sql',
};
const GENERAL: Rule[] = [['comment', /(?:#|\/\/|--)[^\n]*/y], ...COMMON];

/** The code's text with its tokens wrapped in spans; the text itself is unchanged. */
export function highlight(code: string, lang: string): ReactNode[] {
  const name = lang.toLowerCase();
  const rules = LANGUAGES[ALIASES[name] ?? name] ?? GENERAL;
  const out: ReactNode[] = [];
  let plain = '';
  let at = 0;
  while (at < code.length) {
    let matched: { className: string; text: string } | undefined;
    // A token starts only at the beginning of a word, so `abc123` keeps its digits plain.
    if (at === 0 || !/\w/.test(code[at - 1]!) || !/\w/.test(code[at]!)) {
      for (const [className, pattern] of rules) {
        pattern.lastIndex = at;
        const match = pattern.exec(code);
        if (match && match[0].length > 0) {
          matched = { className, text: match[0] };
          break;
        }
      }
    }
    if (!matched) {
      plain += code[at];
      at += 1;
      continue;
    }
    if (plain) out.push(plain);
    plain = '';
    out.push(
      <span key={at} className={`tok-${matched.className}`}>
        {matched.text}
      </span>,
    );
    at += matched.text.length;
  }
  if (plain) out.push(plain);
  return out;
}
