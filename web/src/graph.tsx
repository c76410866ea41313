import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';
import { useEffect, useMemo, useRef, useState } from 'react';
import { documentNodeId, documentOfNodeId, serviceEvidenceId } from '../../src/domain/evidence-id';
import {
  layeredPositions,
  type OutageShape,
  outageShape,
  type RootCauseHint,
  serviceName,
} from './graph-shape';
import { documentLink } from './pages/knowledge';
import type { Evidence } from './types';
import { Link } from './ui';

/** Colours per node kind; each pairs with a shape so the kinds differ without colour too. */
const KINDS: Record<string, { color: string; shape: cytoscape.Css.NodeShape; label: string }> = {
  service: { color: '#1f5fa8', shape: 'round-rectangle', label: 'service' },
  signal: { color: '#b3261e', shape: 'ellipse', label: 'signal' },
  change: { color: '#8a4b00', shape: 'diamond', label: 'change' },
  document: { color: '#2e6b30', shape: 'round-tag', label: 'runbook or postmortem' },
};

/**
 * The frozen bundle's graph (services, signals, changes), plus the knowledge documents the bundle
 * carries, linked to the services they cover: the API's graph has no document nodes.
 */
export function graphElements(evidence: Evidence): ElementDefinition[] {
  const graph = evidence.graph;
  if (!graph) return [];
  const ids = new Set(graph.nodes.map((node) => node.id));
  const elements: ElementDefinition[] = graph.nodes.map((node) => ({
    data: { id: node.id, label: node.label, kind: node.kind },
  }));
  graph.edges.forEach((edge, index) => {
    if (ids.has(edge.from) && ids.has(edge.to))
      elements.push({ data: { id: `edge-${index}`, source: edge.from, target: edge.to, kind: edge.kind } });
  });
  const documents = new Map<string, { label: string; services: Set<string> }>();
  for (const hit of evidence.bundle.knowledge) {
    const entry = documents.get(hit.documentId) ?? { label: hit.path, services: new Set<string>() };
    for (const service of hit.services) entry.services.add(service);
    documents.set(hit.documentId, entry);
  }
  for (const [documentId, entry] of documents) {
    const id = documentNodeId(documentId);
    elements.push({ data: { id, label: entry.label.replace(/^.*\//, ''), kind: 'document' } });
    for (const service of entry.services) {
      const serviceId = serviceEvidenceId(service);
      if (ids.has(serviceId))
        elements.push({ data: { id: `${id}->${serviceId}`, source: id, target: serviceId, kind: 'covers' } });
    }
  }
  return elements;
}

function GraphLegend() {
  return (
    <ul className="legend" aria-label="Graph legend">
      {Object.entries(KINDS).map(([kind, style]) => (
        <li key={kind}>
          <span className={`swatch swatch-${kind}`} aria-hidden="true" />
          {style.label}
        </li>
      ))}
      <li>
        <span className="swatch swatch-origin" aria-hidden="true" />
        origin
      </li>
      <li>
        <span className="swatch swatch-alerting" aria-hidden="true" />
        alerting
      </li>
      <li>
        <span className="swatch swatch-path" aria-hidden="true" />
        unhealthy path
      </li>
    </ul>
  );
}

/** The elements drawn: all of them, or those that matter plus the selected one; marked with their role. */
function drawnElements(
  all: readonly ElementDefinition[],
  shape: OutageShape,
  showAll: boolean,
  selected: string | null,
): ElementDefinition[] {
  const shown = (id: string) => showAll || shape.matters.has(id) || id === selected;
  const nodes = all.filter(
    (element) => element.data.source === undefined && shown(element.data.id as string),
  );
  const ids = new Set(nodes.map((node) => node.data.id as string));
  const onPath = (id: string) => shape.path.has(id);
  const marked = nodes.map((node) => {
    const id = node.data.id as string;
    const role =
      id === shape.origin
        ? 'origin'
        : id === shape.culprit
          ? 'culprit change'
          : shape.alerting.has(id)
            ? 'alerting'
            : onPath(id)
              ? 'on the path'
              : shape.toCulprit.has(id)
                ? 'changed dependency'
                : '';
    const classes = [
      id === shape.origin ? 'origin' : '',
      shape.alerting.has(id) ? 'alerting' : '',
      onPath(id) ? 'path' : '',
      shape.toCulprit.has(id) ? 'suspect' : '',
      id === shape.culprit ? 'culprit' : '',
    ].filter(Boolean);
    return {
      data: { ...node.data, label: role ? `${node.data.label}\n(${role})` : node.data.label },
      classes: classes.join(' '),
    };
  });
  const edges = all
    .filter((element) => element.data.source !== undefined)
    .filter((edge) => ids.has(edge.data.source as string) && ids.has(edge.data.target as string))
    .map((edge) => {
      const { source, target, kind } = edge.data as { source: string; target: string; kind: string };
      const hot = kind === 'depends_on' && onPath(source) && onPath(target);
      const suspect =
        (kind === 'depends_on' && shape.toCulprit.has(source) && shape.toCulprit.has(target)) ||
        (kind === 'changed' && source === shape.culprit);
      return { data: edge.data, classes: hot ? 'path' : suspect ? 'suspect' : '' };
    });
  return [...marked, ...edges];
}

/** The shape in words, beside the picture: what the highlighted nodes are. */
function ShapeSummary({ evidence, shape }: { evidence: Evidence; shape: OutageShape }) {
  const change = evidence.bundle.changes.find((item) => item.id === shape.culprit);
  const names = (ids: Iterable<string>) => [...ids].map(serviceName).sort().join(', ') || 'none';
  const between = [...shape.path].filter((id) => id !== shape.origin && !shape.alerting.has(id));
  const below = [...shape.toCulprit].filter((id) => id !== shape.origin);
  return (
    <p className="graph-summary small" data-origin={shape.origin ? serviceName(shape.origin) : undefined}>
      <strong>Origin:</strong>{' '}
      {shape.origin ? `${serviceName(shape.origin)} (${shape.originFrom})` : 'not known yet'} ·{' '}
      <strong>Alerting:</strong> {names(shape.alerting)}
      {between.length > 0 ? (
        <>
          {' '}
          · <strong>Between them:</strong> {names(between)}
        </>
      ) : null}
      {change ? (
        <>
          {' '}
          · <strong>Culprit change:</strong> {change.kind} on {change.service}
          {change.versionTo ? ` → ${change.versionTo}` : ''}
          {below.length > 0 ? `, below the origin through ${names(below)}` : ''}
        </>
      ) : null}
    </p>
  );
}

/**
 * The evidence graph, drawn by cytoscape as layers of dependencies: the origin's layer at the bottom,
 * its callers above, the path from the alerting services down to the origin highlighted. By default it
 * draws only what matters (origin, alerting services, the services between, the culprit change);
 * "Show all" draws the whole neighbourhood. Clicking a node selects its evidence; the list of evidence
 * next to it carries the same items for keyboard and screen-reader users.
 */
export function EvidenceGraph({
  evidence,
  selected,
  onSelect,
  rootCause,
}: {
  evidence: Evidence;
  selected: string | null;
  onSelect(id: string): void;
  /** The investigation's probable root cause (`{service, changeId}`), when there is one: it names the origin. */
  rootCause?: unknown;
}) {
  const container = useRef<HTMLDivElement>(null);
  const instance = useRef<Core | null>(null);
  const select = useRef(onSelect);
  select.current = onSelect;
  const [showAll, setShowAll] = useState(false);
  const hint = (rootCause && typeof rootCause === 'object' ? rootCause : {}) as RootCauseHint;
  const hintService = typeof hint.service === 'string' ? hint.service : undefined;
  const hintChange = typeof hint.changeId === 'string' ? hint.changeId : undefined;

  const all = useMemo(() => graphElements(evidence), [evidence]);
  const shape = useMemo(
    () => outageShape(evidence, { service: hintService, changeId: hintChange }),
    [evidence, hintService, hintChange],
  );
  const total = all.filter((element) => element.data.source === undefined).length;
  // A selected node that is not drawn (a citation of a signal, say) is drawn with what matters.
  const extra = !showAll && selected && !shape.matters.has(selected) ? selected : null;
  const elements = useMemo(() => drawnElements(all, shape, showAll, extra), [all, shape, showAll, extra]);
  const drawnCount = elements.filter((element) => element.data.source === undefined).length;

  useEffect(() => {
    if (!container.current) return;
    const positions = layeredPositions(elements);
    const cy = cytoscape({
      container: container.current,
      elements,
      // Positions computed from the dependencies: the same picture on every load.
      layout: {
        name: 'preset',
        positions: Object.fromEntries(positions),
        fit: true,
        padding: 40,
        animate: false,
      },
      minZoom: 0.3,
      maxZoom: 2,
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            'font-size': 12,
            'text-wrap': 'wrap',
            'text-max-width': '170px',
            'font-family': 'system-ui, sans-serif',
            color: '#1a1a1a',
            'text-valign': 'bottom',
            'text-margin-y': 5,
            'text-background-color': '#ffffff',
            'text-background-opacity': 0.9,
            'text-background-padding': '2px',
            width: 24,
            height: 24,
            opacity: 1,
          },
        },
        ...Object.entries(KINDS).map(([kind, style]) => ({
          selector: `node[kind = "${kind}"]`,
          style: { 'background-color': style.color, shape: style.shape },
        })),
        {
          selector: 'edge',
          style: {
            width: 1.5,
            'line-color': '#8a8a8a',
            'target-arrow-color': '#8a8a8a',
            'target-arrow-shape': 'triangle',
            'curve-style': 'bezier',
          },
        },
        {
          selector: 'edge[kind = "covers"]',
          style: { 'line-style': 'dashed', 'target-arrow-shape': 'none' },
        },
        { selector: 'node.path', style: { 'border-width': 3, 'border-color': '#b3261e' } },
        { selector: 'node.suspect', style: { 'border-width': 3, 'border-color': '#8a4b00' } },
        {
          selector: 'node.alerting',
          style: { 'border-width': 4, 'border-color': '#b3261e', 'border-style': 'double' },
        },
        {
          selector: 'node.origin',
          style: {
            width: 34,
            height: 34,
            'border-width': 5,
            'border-color': '#5c0f0a',
            'font-weight': 'bold',
          },
        },
        {
          selector: 'node.culprit',
          style: { 'border-width': 3, 'border-color': '#5c0f0a', 'font-weight': 'bold' },
        },
        {
          selector: 'edge.suspect',
          style: {
            width: 3,
            'line-style': 'dashed',
            'line-color': '#8a4b00',
            'target-arrow-color': '#8a4b00',
          },
        },
        {
          selector: 'edge.path',
          style: { width: 4, 'line-color': '#b3261e', 'target-arrow-color': '#b3261e' },
        },
        {
          selector: 'node:selected',
          style: { 'border-width': 5, 'border-color': '#ffb000', 'font-weight': 'bold' },
        },
      ],
      wheelSensitivity: 0.3,
    });
    // A wide neighbourhood would shrink to fit until its words are unreadable: stop at a readable
    // size around the origin, and let the reader pan.
    if (cy.zoom() < 0.7) {
      cy.zoom(0.7);
      const focus = shape.origin ? cy.getElementById(shape.origin) : cy.nodes();
      cy.center(focus.length > 0 ? focus : cy.nodes());
    }
    cy.on('tap', 'node', (event) => select.current(event.target.id() as string));
    instance.current = cy;
    return () => {
      cy.destroy();
      instance.current = null;
    };
  }, [elements, shape]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a redrawn graph is a new instance; it selects again.
  useEffect(() => {
    const cy = instance.current;
    if (!cy) return;
    cy.nodes().unselect();
    if (selected) cy.getElementById(selected).select();
  }, [selected, elements]);

  const selectedDocument = selected ? documentOfNodeId(selected) : undefined;
  const documentHit = selectedDocument
    ? evidence.bundle.knowledge.find((hit) => hit.documentId === selectedDocument)
    : undefined;
  return (
    <>
      <GraphLegend />
      <ShapeSummary evidence={evidence} shape={shape} />
      <p className="graph-controls">
        <button
          type="button"
          className="chip"
          aria-pressed={showAll}
          onClick={() => setShowAll((value) => !value)}
        >
          {showAll ? `Show what matters (${shape.matters.size})` : `Show all (${total})`}
        </button>{' '}
        <span className="muted small" role="status">
          {drawnCount} of {total} nodes drawn
        </span>
      </p>
      <div
        ref={container}
        className="graph"
        role="img"
        data-drawn={drawnCount}
        data-total={total}
        aria-label="Evidence graph: services in dependency layers, the origin at the bottom and its callers above, with signals, changes and documents; the evidence list beside it has the same items"
      />
      {documentHit ? (
        <p className="small">
          <Link to={documentLink(documentHit)}>Open {documentHit.title}</Link> at the cited section.
        </p>
      ) : null}
    </>
  );
}
