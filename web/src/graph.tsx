import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';
import { useEffect, useRef } from 'react';
import { documentNodeId, serviceEvidenceId } from '../../src/domain/evidence-id';
import type { Evidence } from './types';

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
    </ul>
  );
}

/**
 * The evidence graph, drawn by cytoscape. Clicking a node selects its evidence below; the list of
 * evidence next to it carries the same items for keyboard and screen-reader users.
 */
export function EvidenceGraph({
  evidence,
  selected,
  onSelect,
}: {
  evidence: Evidence;
  selected: string | null;
  onSelect(id: string): void;
}) {
  const container = useRef<HTMLDivElement>(null);
  const instance = useRef<Core | null>(null);
  const select = useRef(onSelect);
  select.current = onSelect;

  useEffect(() => {
    if (!container.current) return;
    const cy = cytoscape({
      container: container.current,
      elements: graphElements(evidence),
      // Fixed seed-free layout: concentric by kind keeps the same picture on every load.
      layout: {
        name: 'concentric',
        concentric: (node) => {
          const kind = node.data('kind') as string;
          return kind === 'signal' ? 4 : kind === 'change' ? 3 : kind === 'service' ? 2 : 1;
        },
        levelWidth: () => 1,
        minNodeSpacing: 45,
        spacingFactor: 1.1,
        animate: false,
      },
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            'font-size': 11,
            'text-wrap': 'ellipsis',
            'text-max-width': '120px',
            'font-family': 'system-ui, sans-serif',
            color: '#1a1a1a',
            'text-valign': 'bottom',
            'text-margin-y': 4,
            'text-background-color': '#ffffff',
            'text-background-opacity': 0.85,
            'text-background-padding': '2px',
            width: 22,
            height: 22,
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
        {
          selector: 'node:selected',
          style: { 'border-width': 4, 'border-color': '#ffb000', 'font-weight': 'bold' },
        },
      ],
      wheelSensitivity: 0.3,
    });
    cy.on('tap', 'node', (event) => select.current(event.target.id() as string));
    instance.current = cy;
    return () => {
      cy.destroy();
      instance.current = null;
    };
  }, [evidence]);

  useEffect(() => {
    const cy = instance.current;
    if (!cy) return;
    cy.nodes().unselect();
    if (selected) cy.getElementById(selected).select();
  }, [selected]);

  return (
    <>
      <GraphLegend />
      <div
        ref={container}
        className="graph"
        role="img"
        aria-label="Evidence graph: services, signals, changes and documents; the evidence list beside it has the same items"
      />
    </>
  );
}
