#!/usr/bin/perl
# Verify the message on stdin with Mail::DKIM (DKIM-Signature and DomainKey-Signature).
#   dkim-verify.pl [RECORDS]
# RECORDS: lines "name<TAB>txt" answering TXT queries in-process (no network): a name not in the
# file is NXDOMAIN. Without RECORDS, real DNS (Net::DNS, configured from /etc/resolv.conf). Prints JSON: {"result","detail","signatures":[{type,domain,selector,result,
# detail}]}.
use strict;
use warnings;
use JSON::PP;
use Net::DNS;
use Mail::DKIM::Verifier;

my %txt;
if (@ARGV) {
    open my $fh, '<', $ARGV[0] or die "$ARGV[0]: $!\n";
    while (my $l = <$fh>) {
        chomp $l;
        next unless length $l;
        my ($n, $t) = split /\t/, $l, 2;
        $n = lc $n;
        $n =~ s/\.\z//;
        push @{ $txt{$n} }, $t;
    }
}
if (@ARGV) {
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($name, $type) = @_;
        my $n = lc $name;
        $n =~ s/\.\z//;
        if (uc $type ne 'TXT' || !$txt{$n}) {
            $@ = 'NXDOMAIN';
            return;
        }
        $@ = 'NOERROR';
        return map { Net::DNS::RR->new(name => $name, type => 'TXT',
                                       txtdata => [unpack '(a255)*', $_]) } @{ $txt{$n} };
    };
}

my $v = Mail::DKIM::Verifier->new;
binmode STDIN;
while (my $line = <STDIN>) {
    $line =~ s/\r?\n\z/\r\n/;
    $v->PRINT($line);
}
$v->CLOSE;
my @sigs = map {
    { type => (ref($_) =~ /DkSignature/ ? 'domainkeys' : 'dkim'),
      domain => $_->domain, selector => $_->selector,
      result => $_->result // '', detail => $_->result_detail // '' }
} $v->signatures;
print JSON::PP->new->canonical->encode({ result => $v->result // '',
    detail => $v->result_detail // '', signatures => \@sigs }), "\n";
