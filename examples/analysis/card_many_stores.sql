-- Discount cards used in many stores on one day: a loyalty card shared among staff, or a
-- cloned card. One row per card and (store-local) day, most receipts first.
SELECT
    local_day AS day,
    discount_card,
    uniqExact(store) AS stores,
    count() AS receipts,
    round(sum(discount) / 100, 2) AS discount_total,
    arraySort(groupUniqArray(store)) AS which_stores
FROM posguard.receipt_summary
WHERE discount_card != '' AND status = 'closed'
GROUP BY day, discount_card
HAVING stores >= 3 AND receipts >= 10
ORDER BY receipts DESC, day, discount_card
LIMIT 20
