import { describe, expect, it } from 'vitest';
import { chunkMarkdown, MAX_CHUNK_CHARS, parseMarkdown } from './markdown.js';

const doc = (front: string, body: string) => `---\n${front}\n---\n${body}`;

describe('parseMarkdown', () => {
  it('reads the front matter fields and keeps the rest', () => {
    const parsed = parseMarkdown(
      doc(
        'title: Gateway 5xx\nkind: runbook\nservices: [api-gateway]\nalerts: [HighErrorRate]\nowner: team-platform',
        '# Gateway 5xx\ntext',
      ),
    );
    expect(parsed).toMatchObject({
      ok: true,
      frontMatter: {
        title: 'Gateway 5xx',
        kind: 'runbook',
        services: ['api-gateway'],
        alerts: ['HighErrorRate'],
      },
      extra: { owner: 'team-platform' },
      body: '# Gateway 5xx\ntext',
    });
  });

  it('names what is wrong with bad front matter', () => {
    expect(parseMarkdown(doc('title: x\nkind: howto', 'body'))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('kind'),
    });
    expect(parseMarkdown(doc('title: [unclosed', 'body'))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not valid YAML'),
    });
    expect(parseMarkdown(doc('- a list', 'body'))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('mapping'),
    });
  });

  it('takes runbooks as published: static-site front matter, or none, named after the alert', () => {
    // Hugo or Docsy front matter: title and weight, no kind; the alert is the file name.
    expect(
      parseMarkdown(
        doc('title: KubePodCrashLooping\nweight: 20', '## Meaning\ntext'),
        'kubernetes/KubePodCrashLooping.md',
      ),
    ).toMatchObject({
      ok: true,
      frontMatter: {
        title: 'KubePodCrashLooping',
        kind: 'runbook',
        services: [],
        alerts: ['KubePodCrashLooping'],
      },
      extra: { weight: 20 },
      inferred: ['kind', 'alerts'],
    });
    // No front matter: the title is the first heading, whose first word is the alert.
    expect(
      parseMarkdown('# TargetDown: a scrape target is unreachable\n## Meaning\ntext', 'prometheus/target.md'),
    ).toMatchObject({
      ok: true,
      frontMatter: {
        title: 'TargetDown: a scrape target is unreachable',
        kind: 'runbook',
        alerts: ['TargetDown'],
      },
      inferred: ['title', 'kind', 'alerts'],
    });
    // No heading either: the file name; a directory of postmortems makes a postmortem.
    expect(parseMarkdown('what happened', 'postmortems/2026-03-14-gateway.md')).toMatchObject({
      ok: true,
      frontMatter: { title: '2026-03-14-gateway', kind: 'postmortem', alerts: [] },
    });
    // A type or tags value can say so too, and a single alert may be written without a list.
    expect(
      parseMarkdown(
        doc('title: Gateway outage\ntags: [postmortem, gateway]\nalerts: HighErrorRate', 'text'),
        'docs/g.md',
      ),
    ).toMatchObject({ ok: true, frontMatter: { kind: 'postmortem', alerts: ['HighErrorRate'] } });
    // Headings that are plain words are not alert names.
    expect(parseMarkdown('# Meaning\ntext', 'docs/overview.md')).toMatchObject({
      ok: true,
      frontMatter: { title: 'Meaning', alerts: [] },
    });
  });

  it('accepts Windows line endings and a byte-order mark', () => {
    const parsed = parseMarkdown(`\uFEFF---\r\ntitle: T\r\nkind: postmortem\r\n---\r\n# T\r\nbody\r\n`);
    expect(parsed).toMatchObject({ ok: true, frontMatter: { title: 'T', kind: 'postmortem' } });
  });
});

describe('chunkMarkdown', () => {
  it('makes one chunk per section, labelled with its heading path', () => {
    const sections = chunkMarkdown(
      '# Gateway 5xx\nintro\n## Diagnosis\nstep one\n### Logs\nread logs\n## Mitigation\nroll back',
      'Gateway 5xx',
    );
    expect(sections).toEqual([
      { heading: 'Gateway 5xx', text: 'intro' },
      { heading: 'Gateway 5xx > Diagnosis', text: 'step one' },
      { heading: 'Gateway 5xx > Diagnosis > Logs', text: 'read logs' },
      { heading: 'Gateway 5xx > Mitigation', text: 'roll back' },
    ]);
  });

  it('ignores heading-like lines inside code fences', () => {
    const sections = chunkMarkdown(
      '## Diagnosis\n```sh\n# this is a shell comment\nkubectl get pods\n```\nafter',
      'T',
    );
    expect(sections).toHaveLength(1);
    expect(sections[0]!.text).toContain('# this is a shell comment');
  });

  it('splits long sections between paragraphs without cutting a code block', () => {
    const paragraph = 'word '.repeat(100).trim();
    const code = `\`\`\`\n${'line\n\n'.repeat(200)}\`\`\``;
    const body = `## Long\n${[paragraph, paragraph, code, paragraph, paragraph].join('\n\n')}`;
    const sections = chunkMarkdown(body, 'T');
    expect(sections.length).toBeGreaterThan(1);
    for (const section of sections) expect(section.heading).toBe('T > Long');
    const withFence = sections.filter((section) => section.text.includes('```'));
    expect(withFence).toHaveLength(1);
    expect(withFence[0]!.text.match(/```/g)).toHaveLength(2);
    const short = sections.filter((section) => !section.text.includes('```'));
    for (const section of short) expect(section.text.length).toBeLessThanOrEqual(MAX_CHUNK_CHARS);
  });
});
