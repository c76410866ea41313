/**
 * Content filter for evidence text: prompt-injection and instruction-smuggling patterns. Log lines
 * are attacker-controlled, so text that talks to the model ("ignore previous instructions") is
 * flagged. The table only finds; the caller decides WARN (default) or BLOCK.
 *
 * Regexes follow the recognizer rules: bounded quantifiers, no ambiguous nested repetition.
 */

export type InjectionCategory =
  | 'instruction-override'
  | 'role-override'
  | 'prompt-exfiltration'
  | 'exfiltration'
  | 'hidden-text';

export interface InjectionRule {
  id: string;
  category: InjectionCategory;
  pattern: RegExp;
  /** 0..1: how sure a match is an attack rather than an ordinary log message. */
  severity: number;
}

const SP = '[\\s_-]{1,4}';
const rule = (
  id: string,
  category: InjectionCategory,
  severity: number,
  source: string,
  flags = 'gi',
): InjectionRule => ({
  id,
  category,
  severity,
  pattern: new RegExp(source.replaceAll(' ', SP), flags),
});

export const INJECTION_RULES: readonly InjectionRule[] = [
  rule(
    'ignore-previous',
    'instruction-override',
    0.9,
    String.raw`\b(?:ignore|disregard|forget|skip|override|bypass) (?:(?:all|any|every|the|your|of|these|those|my) ){0,3}(?:previous|prior|above|earlier|preceding|original|system|existing|initial) (?:instructions?|prompts?|rules|directions|guidelines|context|messages?|constraints)\b`,
  ),
  rule(
    'new-instructions',
    'instruction-override',
    0.6,
    String.raw`\b(?:new|updated|real|actual|revised) (?:system )?instructions?\s{0,3}:`,
  ),
  rule(
    'do-not-tell',
    'instruction-override',
    0.7,
    String.raw`\b(?:do not|don't|never) (?:tell|inform|alert|notify|mention (?:this )?to) (?:the )?(?:user|operator|human|on-?call|admin)`,
  ),
  rule(
    'you-are-now',
    'role-override',
    0.8,
    String.raw`\byou (?:are|will) (?:now|from now on|henceforth) (?:be )?(?:an? |the |in |my )?\w{2,}`,
  ),
  rule(
    'act-as',
    'role-override',
    0.6,
    String.raw`\b(?:pretend (?:to be|you are|that you are)|act as (?:an? |the )?(?:unrestricted|unfiltered|jailbroken|evil|different|new)|roleplay as|role-play as)\b`,
  ),
  rule(
    'mode-switch',
    'role-override',
    0.7,
    String.raw`\b(?:developer|god|jailbreak|dan|unrestricted|admin|debug) mode (?:enabled|activated|on)\b|\benable (?:developer|god|jailbreak|unrestricted) mode\b`,
  ),
  rule(
    'chat-markup',
    'role-override',
    0.9,
    // Chat-template and role markers smuggled into text: <|im_start|>system, [INST], <<SYS>>, </system>.
    String.raw`<\|(?:im_start|im_end|system|endoftext|start_header_id)\|>|\[/?INST\]|<</?SYS>>|</?(?:system|assistant)>|^#{2,3} ?(?:system|instruction)s?:?\s*$|\n(?:system|assistant|human) ?:\s`,
    'gim',
  ),
  rule(
    'reveal-prompt',
    'prompt-exfiltration',
    0.8,
    String.raw`\b(?:reveal|print|show|repeat|output|display|leak|dump) (?:me )?(?:your|the) (?:full |entire |original |hidden )?(?:system prompt|prompt|instructions|initial instructions|configuration)\b`,
  ),
  rule(
    'send-data',
    'exfiltration',
    0.6,
    String.raw`\b(?:send|post|upload|forward|exfiltrate|transmit) (?:all |the |every )?(?:secrets?|credentials?|tokens?|keys?|passwords?|env(?:ironment)?(?: variables)?|conversation|data|findings) to (?:https?://|\S{1,64}@|the following)`,
  ),
  rule(
    'run-command',
    'exfiltration',
    0.5,
    String.raw`\b(?:run|execute) (?:the following|this) (?:command|script|code)\b|\bcurl \S{1,256} ?\| ?(?:ba|z)?sh\b`,
  ),
  rule(
    'hidden-characters',
    'hidden-text',
    0.7,
    // Zero-width and bidirectional-override characters hide instructions from a human reader.
    '[\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\uFEFF]{1,64}',
    'g',
  ),
];

export interface InjectionFinding {
  rule: string;
  category: InjectionCategory;
  severity: number;
  /** Offsets into the original text. */
  start: number;
  end: number;
}

/** All prompt-injection findings in `text`, in text order. */
export function detectInjection(text: string): InjectionFinding[] {
  const findings: InjectionFinding[] = [];
  for (const { id, category, severity, pattern } of INJECTION_RULES) {
    const copy = new RegExp(pattern.source, pattern.flags);
    for (let match = copy.exec(text); match !== null; match = copy.exec(text)) {
      if (match[0].length === 0) {
        copy.lastIndex += 1;
        continue;
      }
      findings.push({ rule: id, category, severity, start: match.index, end: match.index + match[0].length });
    }
  }
  return findings.sort((a, b) => a.start - b.start || b.severity - a.severity);
}

export type ContentMode = 'WARN' | 'BLOCK';

export interface ContentResult {
  action: 'allow' | 'warn' | 'block';
  findings: InjectionFinding[];
  reason?: string;
}

/**
 * The content filter as a decision: findings make the result `warn` (default mode) or `block`.
 * Fails closed: an internal error is a `block` with the reason.
 */
export function filterContent(
  text: string,
  mode: ContentMode = 'WARN',
  detector = detectInjection,
): ContentResult {
  try {
    const findings = detector(text);
    if (findings.length === 0) return { action: 'allow', findings };
    return { action: mode === 'BLOCK' ? 'block' : 'warn', findings };
  } catch (error) {
    return {
      action: 'block',
      findings: [],
      reason: `content filter error: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
