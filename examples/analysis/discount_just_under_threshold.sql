-- Receipts whose discount sits just under the approval threshold.
--
-- Above 30 % of the receipt a discount needs a supervisor's approval; a cashier who keeps
-- landing between 27 % and 30 % is likely steering around that rule. `total` is the receipt's
-- closing total (after discounts), so the amount before discounts is total + discount.
WITH 0.30 AS threshold, 0.03 AS band
SELECT
    store,
    cashier_name,
    count() AS receipts,
    countIf(discount >= (threshold - band) * (total + discount)
            AND discount < threshold * (total + discount)) AS just_under,
    countIf(discount >= threshold * (total + discount)) AS over_threshold,
    round(100 * just_under / receipts, 2) AS just_under_pct,
    round(sumIf(discount, discount >= (threshold - band) * (total + discount)
                AND discount < threshold * (total + discount)) / 100, 2) AS just_under_amount
FROM posguard.receipt_summary
WHERE status = 'closed' AND kind = 'sale'
GROUP BY store, cashier_name
HAVING just_under > 0
ORDER BY just_under DESC, store, cashier_name
