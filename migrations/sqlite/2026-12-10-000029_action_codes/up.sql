-- Suggested actions stored as codes (issue 20): an exception's action is said in the reader's
-- language from its code (src/words/suggestions.rs), not translated from a stored English
-- sentence. The sentence column stays (older rows keep what they said); rows stored before
-- this migration get the code their sentence stands for, and any other sentence stays
-- without a code and is shown as stored. recon_exceptions has no guard triggers; adding a
-- nullable column rewrites no row on either database.
ALTER TABLE recon_exceptions ADD COLUMN action_code TEXT;
UPDATE recon_exceptions SET action_code = CASE suggested_action
    WHEN 'Compare the receipt and terminal slip with the acquirer''s line; if the ledger is wrong correct it with a reversing entry, otherwise claim the difference from the acquirer (bank_claim).' THEN 'compare_amounts'
    WHEN 'Not in the acquirer''s files of the day or the next: check the terminal batch was settled and ask the acquirer; if the card was never charged, reverse the payment.' THEN 'check_terminal_batch'
    WHEN 'The acquirer settled a transaction the ledger does not have: find the counter record and manual_match it, or record the payment; if it is not ours, bank_claim.' THEN 'find_counter_record'
    WHEN 'The acquirer settled a refund the ledger has not approved: find the refund request and approve it, or bank_claim the amount from the acquirer.' THEN 'approve_refund_or_claim'
    WHEN 'Acquirer adjustment (调账): ask the acquirer for the reason, then book it or bank_claim it.' THEN 'ask_adjustment_reason'
    WHEN 'The acquirer settled the same transaction twice: bank_claim the duplicate from the acquirer.' THEN 'claim_duplicate'
    WHEN 'Voided in the ledger but the acquirer settled the purchase: ask the acquirer to reverse it (bank_claim), or refund the cardholder.' THEN 'reverse_void_settled'
    WHEN 'The credit differs from the file''s net: check fees and adjustments with the acquirer and bank_claim the difference.' THEN 'claim_cash_difference'
    WHEN 'No credit for this file within the credit horizon: raise a bank claim (bank_claim) with the acquirer and the bank; the claim stays tracked until the credit arrives.' THEN 'claim_missing_credit'
    WHEN 'No credit for this file on the collection account: check the next statement (accept_timing) or chase the acquirer.' THEN 'check_next_statement'
    WHEN 'A settlement credit that pays no imported file: import the file it names, or identify the payer and return the money.' THEN 'import_or_return'
    WHEN 'A credit to the collection account that no settlement file, fee top-up or treasury return explains: identify the payer from the bank''s advice; book it or return it.' THEN 'identify_payer'
    WHEN 'SUPERVISION FINDING: money left the collection account without a remittance (possible 坐支). Obtain the bank''s debit advice and who authorised it; report it to supervision and have the bank reverse it (bank_claim).' THEN 'report_unexplained_debit'
    WHEN 'A bank reversal that undoes a settlement credit, or nothing the run can see: obtain the bank''s advice; claim the amount or match it by hand.' THEN 'obtain_reversal_advice'
    WHEN 'investigate' THEN 'investigate'
    ELSE NULL END;
