# busybox awk differential test: per-department count and mean salary of data/table.csv (run with -F ,).
# The for-in order is awk's hash order: the same binary gives the same order natively and under Kernite.
NR > 1 {
    total[$2] += $3
    count[$2]++
    if ($4 > latest) latest = $4
}
END {
    for (dept in total)
        printf "%-12s %3d %10.2f\n", dept, count[dept], total[dept] / count[dept]
    printf "%d lines, latest year %d, last line %d characters, %s\n", NR, latest, length($0), toupper(substr($1, 1, 3))
}
