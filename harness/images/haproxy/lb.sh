#!/bin/bash
# One load balancer: HAProxy, and keepalived when the stack has a virtual IP (zones >= 2).
#
# Supervision is deliberately "either one ends, the container ends": a load balancer whose HAProxy died must not
# keep the VIP (keepalived's track script would release it too, a second later), and one whose keepalived died
# can no longer hand the VIP over. Docker then shows the LB as exited, which is what `drill stack status` and the
# drills' recovery wait look at. SIGTERM (docker stop/restart) is passed on to both: keepalived then sends a
# priority-0 advertisement, so the peer takes the VIP at once instead of after the master-down interval.
set -u
KEEPALIVED_CONF=/etc/keepalived/keepalived.conf

/usr/sbin/haproxy -W -db -f /etc/haproxy/haproxy.cfg &
hp=$!
ka=""
if [ -f "$KEEPALIVED_CONF" ]; then
    # A pid file left by the previous life of this container (docker kill, then start) names a pid that may be
    # reused now: keepalived would think it is running already and exit.
    rm -f /run/keepalived.pid /run/vrrp.pid /run/checkers.pid
    /usr/sbin/keepalived --dont-fork --log-console --log-detail --vrrp -f "$KEEPALIVED_CONF" &
    ka=$!
fi

# keepalived first: it gives the VIP up (priority-0 advert) and the peer takes it while this HAProxy still
# answers, so a restart costs clients ~nothing; then HAProxy.
stop() {
    trap '' TERM INT
    if [ -n "$ka" ]; then
        kill -TERM "$ka" 2>/dev/null
        wait "$ka" 2>/dev/null
        sleep 0.5   # the peer takes over after its skew time (~0.2 s) and announces it (gratuitous ARP)
    fi
    kill -TERM "$hp" 2>/dev/null
}
trap stop TERM INT
wait -n $hp $ka
rc=$?
stop
wait
exit "$rc"
