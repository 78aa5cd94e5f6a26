-- Handlers that must prove the work ran (docs/delivery-contract.md, delivery/confirmation.ts).
--
-- A handler registered with `confirm: true` (the n8n Task Trigger registers that way) completes a
-- task only with a 2xx that carries its confirmation marker (`x-task-confirm`); an unmarked 2xx —
-- n8n's boot page answers 200 to everything, so may a proxy — is retried as `unconfirmed`.
-- Existing handlers keep "any 2xx completes".
ALTER TABLE handlers ADD COLUMN confirm boolean NOT NULL DEFAULT false;
