// Settings and the labels the console shows for the API's values.

export const TOKEN_KEY = 'engagement.apiToken';
export const REVIEWER_KEY = 'engagement.reviewer';
export const PAGE_SIZE = 25;
export const REVIEW_PAGE_SIZE = 50;
export const CATALOG_PAGE_SIZE = 50;
export const SEARCH_DELAY_MS = 300;
export const REDRIVE_MAX = 100;

export const BANDS = ['critical', 'at_risk', 'moderate', 'good'];
export const BAND_COLOURS = { critical: '#c0392b', at_risk: '#e67e22', moderate: '#f1c40f', good: '#27ae60', unknown: '#95a5a6' };
export const BAND_LABELS = { critical: 'Critical', at_risk: 'At risk', moderate: 'Moderate', good: 'Good', unknown: 'Unknown' };
export const STATUS_LABELS = {
  PENDING_REVIEW: 'Pending review', APPROVED: 'Approved', SCHEDULED: 'Scheduled', SENDING: 'Sending',
  SENT: 'Sent', FAILED: 'Failed', REJECTED: 'Rejected', CANCELLED: 'Cancelled',
};
export const REASON_LABELS = {
  eligible: 'Eligible (sent)', quiet_hours: 'Quiet hours (sent later)', not_at_risk: 'Not at risk',
  cooldown: 'Cooldown', opted_out: 'Opted out', suppressed: 'Suppressed', frequency_cap: 'Frequency cap',
  held_out: 'Held out (holdout)', client_missing: 'Client missing', operator_request: 'Operator request',
};
export const P_ALIVE_BUCKETS = ['0-10', '10-20', '20-30', '30-40', '40-50', '50-60', '60-70', '70-80', '80-90', '90-100'];
export const P_ALIVE_COLOUR = '#1f5fbf'; // the accent;
export const VARIANT_LABELS = { bgnbd: 'BG/NBD', mbgnbd: 'MBG/NBD' };
export const FACTOR_LABELS = { recency: 'Recency', frequency: 'Frequency', value: 'Order value' };
// Which score a decision was made on (the decisions' scoreSource).
export const SCORE_SOURCE_LABELS = { model: 'by the churn model', computed: 'by the rule score', provided: 'by the override' };
export const ORDER_SOURCE_LABELS = { api: 'API', import: 'Import', shopify: 'Shopify' };
export const ORDER_FLAG_LABELS = {
  line_totals_disagree: 'Line items do not add up to the amount',
  unknown_products: 'Names a product not in the catalog',
};
export const STOCK_LABELS = { '': 'All', 'true': 'In stock', 'false': 'Out of stock' }; // the inStock filter's values
export const SECTION_TITLES = {
  overview: 'Overview', clients: 'Clients', review: 'Review', outbox: 'Outbox', pipeline: 'Pipeline', catalog: 'Catalog',
};
