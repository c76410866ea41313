/** The job kind that runs an investigation: queued by ingest, run by the worker (src/investigate/jobs.ts). */
export const INVESTIGATE_JOB = 'investigate';
