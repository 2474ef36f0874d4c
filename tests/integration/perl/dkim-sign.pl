#!/usr/bin/perl
# Sign the message on stdin with Mail::DKIM; print only the signature header (CRLF line ends).
#   dkim-sign.pl --type dkim|domainkeys --algorithm rsa-sha256|rsa-sha1
#                --method relaxed/simple|simple|nofws|... --domain D --selector S --key FILE
#                [--headers from:to:subject]
use strict;
use warnings;
use Getopt::Long;
use Mail::DKIM::Signer;
use Mail::DKIM::Signature;
use Mail::DKIM::DkSignature;

my %o = (type => 'dkim', algorithm => 'rsa-sha256', method => 'relaxed/relaxed');
GetOptions(\%o, 'type=s', 'algorithm=s', 'method=s', 'domain=s', 'selector=s', 'key=s',
           'headers=s') or die "usage\n";
defined $o{$_} or die "missing --$_\n" for qw(domain selector key);

my $policy = sub {
    my $dkim = shift;
    my %p = (Algorithm => $o{algorithm}, Method => $o{method}, Domain => $o{domain},
             Selector => $o{selector}, Headers => $o{headers} // $dkim->headers);
    my $class = $o{type} eq 'domainkeys' ? 'Mail::DKIM::DkSignature' : 'Mail::DKIM::Signature';
    $o{type} =~ /^(dkim|domainkeys)$/ or die "unknown --type $o{type}\n";
    $dkim->add_signature($class->new(%p));
    return;
};

my $signer = Mail::DKIM::Signer->new(KeyFile => $o{key}, Policy => $policy);
binmode STDIN;
binmode STDOUT;
while (my $line = <STDIN>) {
    $line =~ s/\r?\n\z/\r\n/;
    $signer->PRINT($line);
}
$signer->CLOSE;
my $sig = $signer->signature or die "no signature made\n";
my $h = $sig->as_string;
$h =~ s/\r?\n/\r\n/g;
print $h, "\r\n";
